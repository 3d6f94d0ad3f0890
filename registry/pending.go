package registry

import (
	"errors"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// TODO(registry): replace with the real packages as they land.

var errPending = errors.New("not built yet")

func kvnodeSystem(name string) (harness.System, error) { return nil, errPending }

func localDeployment(log harness.Logger) (harness.Deployment, error) { return nil, errPending }

// Nemeses resolves nemesis package names.
func Nemeses(names []string) ([]harness.Nemesis, error) {
	if len(names) == 0 {
		return nil, nil
	}
	return nil, errPending
}

// NemesisNames lists the fault packages.
func NemesisNames() []string { return nil }

// ParseNemesis expands a --nemesis spec ("partition,kill", "all", "none").
func ParseNemesis(spec string) ([]string, error) { return nil, errPending }
