package toy

import (
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// TestToy runs toynode under partitions and pauses (it keeps its data in
// memory only, so kills would lose it: that is not what it promises). Set
// GAUNTLET_RESULTS to keep the run folder; GAUNTLET_REPLAY=<run folder>
// repeats a run.
func TestToy(t *testing.T) {
	gauntlettest.Run(t, harness.Test{
		System: "toy", Nodes: 3, Concurrency: 6, Nemesis: []string{"partition", "pause"},
		NemesisInterval: harness.Duration(2 * time.Second), TimeLimit: harness.Duration(8 * time.Second), Seed: 1,
	})
}
