package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// examples/pystore serves sets and counters (wire protocol 2): both
// workloads valid through kills.
func TestPythonStoreSetsAndCounters(t *testing.T) {
	sys := pystore(t)
	for _, w := range []string{"set", "counter"} {
		gauntlettest.Run(t, harness.Test{
			System: sys, Workload: w, Nodes: 3, Concurrency: 6, Nemesis: []string{"kill"},
			NemesisInterval: seconds(3), TimeLimit: seconds(8), Seed: 1,
		})
	}
}

// The quorum store's sets are CRDTs: valid through partitions; kept as a
// last-writer-wins register (set-lww) they lose acknowledged adds.
func TestQuorumSets(t *testing.T) {
	gauntlettest.Run(t, harness.Test{
		System: "quorum", Workload: "set", Nodes: 3, Concurrency: 6, Nemesis: []string{"partition"},
		NemesisInterval: seconds(3), TimeLimit: seconds(8), Seed: 1,
	})
	res := gauntlettest.RunCatch(t, harness.Test{
		System: "quorum", Workload: "set", Bug: "set-lww", Nodes: 3, Concurrency: 6, Nemesis: []string{"none"},
		TimeLimit: seconds(5),
	}, 1, 2, 3)
	require.NotNil(t, res.FirstAnomaly())
}
