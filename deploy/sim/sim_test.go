package simdeploy_test

import (
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Runs on the sim deployment take virtual time: these 10 s runs take about
// a second of CPU each.
func simTest(system, bug string, nemesis ...string) harness.Test {
	return harness.Test{System: system, Deploy: "sim", Bug: bug, Nemesis: nemesis,
		TimeLimit: harness.Duration(10 * time.Second), Rate: 300, Seed: 1}
}

func TestRaftValidUnderFaults(t *testing.T) {
	gauntlettest.Run(t, simTest("raft", "", "partition", "kill", "pause", "clock", "crash-after", "drop-next", "reorder"))
}

func TestQuorumValid(t *testing.T) {
	test := simTest("quorum", "", "partition", "kill")
	test.Workload = "kv-without-cas"
	gauntlettest.Run(t, test)
}

func TestStaleReadCaught(t *testing.T) {
	gauntlettest.RunExpect(t, simTest("raft", "stale-read", "partition"), harness.Invalid)
}
