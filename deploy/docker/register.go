package docker

import (
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// The deployment registers itself, as systems do; deploy/builtin links it
// into the gauntlet command.
func init() {
	registry.RegisterDeployment("docker", func(_ harness.Test, log harness.Logger) (harness.Deployment, error) {
		return New(Options{Logger: log}), nil
	})
}
