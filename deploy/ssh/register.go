package ssh

import (
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// The deployment registers itself, as systems do; deploy/builtin links it
// into the gauntlet command. --deploy ssh --hosts FILE: the hosts file is
// read now, so a missing or malformed one is refused before a run folder
// exists.
func init() {
	registry.RegisterDeployment("ssh", func(t harness.Test, log harness.Logger) (harness.Deployment, error) {
		return Open(Options{Hosts: t.Hosts, Logger: log})
	})
}
