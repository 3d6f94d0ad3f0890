package hashiraft_test

import (
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/hashiraft"
)

// The same node code, in the simulation and as processes: valid as it is,
// invalid with the stale-reads mistake. Set GAUNTLET_RESULTS to keep the run
// folders; GAUNTLET_REPLAY=<run folder> repeats one.
func test(deploy, bug string, limit time.Duration) harness.Test {
	return harness.Test{System: "hashiraft", Deploy: deploy, Bug: bug, Nodes: 3, Concurrency: 6,
		Nemesis: []string{"partition", "kill", "pause"}, NemesisInterval: harness.Duration(2 * time.Second),
		TimeLimit: harness.Duration(limit), Seed: 1}
}

func TestSimValid(t *testing.T) {
	gauntlettest.Run(t, test("sim", "", 30*time.Second))
}

func TestSimStaleReadsInvalid(t *testing.T) {
	tc := test("sim", hashiraft.BugStaleReads, 30*time.Second)
	tc.Nemesis = []string{"partition"}
	gauntlettest.RunCatch(t, tc, 1, 2, 3)
}

func TestLocalValid(t *testing.T) {
	gauntlettest.Run(t, test("local", "", 8*time.Second))
}

func TestLocalStaleReadsInvalid(t *testing.T) {
	tc := test("local", hashiraft.BugStaleReads, 8*time.Second)
	tc.Nemesis = []string{"partition"}
	gauntlettest.RunCatch(t, tc, 1, 2, 3)
}
