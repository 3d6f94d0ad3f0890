package registry

import (
	"fmt"
	"strings"

	"github.com/gauntlet-dev/gauntlet/deploy/local"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/nemesis"
	"github.com/gauntlet-dev/gauntlet/targets/kvnode"
)

func kvnodeSystem(mode string) (harness.System, error) { return kvnode.New(mode), nil }

func localDeployment(log harness.Logger) (harness.Deployment, error) {
	return local.New(local.Options{Logger: log}), nil
}

// NemesisNames lists the fault packages.
func NemesisNames() []string { return nemesis.Names() }

// ParseNemesis expands a --nemesis spec ("partition,kill", "all", "none").
func ParseNemesis(spec string) ([]string, error) { return nemesis.Parse(spec) }

// Nemeses makes fresh instances of the named packages (one per run: they
// remember what they must heal).
func Nemeses(names []string) ([]harness.Nemesis, error) {
	// Groups ("aimed", "all") may come unexpanded, e.g. from a campaign cell.
	names, err := nemesis.Parse(strings.Join(names, ","))
	if err != nil {
		return nil, fmt.Errorf("--nemesis: %w", err)
	}
	var out []harness.Nemesis
	for _, n := range names {
		if n == "none" {
			continue
		}
		nem, err := nemesis.New(n)
		if err != nil {
			return nil, fmt.Errorf("--nemesis: %w", err)
		}
		out = append(out, nem)
	}
	return out, nil
}
