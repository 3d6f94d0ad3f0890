package simdeploy

import (
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// The deployment and its own fault packages register themselves, as
// systems do; deploy/builtin links them into the gauntlet command.
func init() {
	registry.RegisterDeployment(Name, func(t harness.Test, log harness.Logger) (harness.Deployment, error) {
		return New(Options{Seed: t.Seed, Logger: log}), nil
	})
	for name, f := range Nemeses() {
		registry.RegisterNemesis(name, f)
	}
	for name, f := range Scenarios() {
		registry.RegisterNemesis(name, f)
	}
}
