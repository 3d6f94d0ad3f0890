package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Transactions on the raft store are strict serializable under partitions
// and kills, judged by the isolation checker.
func TestRaftListAppendIsValid(t *testing.T) {
	res := gauntlettest.Run(t, harness.Test{
		System: "raft", Workload: "list-append", Nemesis: []string{"partition", "kill"},
		NemesisInterval: seconds(3), Nodes: 5, Concurrency: 10, TimeLimit: seconds(8), Seed: 1,
	})
	assert.Equal(t, "strict-serializable", res.Test.Consistency, "the store's promise is what was judged, and is recorded")
	for _, c := range res.Checkers {
		if c.Checker == "isolation" {
			assert.Equal(t, harness.Valid, c.Validity, c.Summary)
			return
		}
	}
	t.Fatal("no isolation checker ran")
}

// Read-only transactions served from a follower's own state miss writes
// that committed before they began: caught, and named.
func TestRaftTxnLocalReadIsInvalid(t *testing.T) {
	res := gauntlettest.RunCatch(t, harness.Test{
		System: "raft", Workload: "list-append", Bug: "txn-local-read",
		Nodes: 5, Concurrency: 10, TimeLimit: seconds(5),
	}, 1, 2, 3)
	a := res.FirstAnomaly()
	require.NotNil(t, a)
	assert.Equal(t, "isolation", a.Checker)
	// A session or real-time anomaly: each read saw one consistent state,
	// only not the latest.
	assert.Regexp(t, `^G[-\w]*-(process|realtime)`, a.Explanation)
}

// The quorum store refuses transactional workloads before anything starts,
// and says why.
func TestQuorumRefusesTransactions(t *testing.T) {
	out := t.TempDir()
	for _, w := range []string{"list-append", "rw-register", "bank"} {
		code, stdout, stderr := gauntlet(t, time.Minute, "run", "--system", "quorum", "--workload", w, "--out", out)
		assert.Equal(t, harness.ExitUsage, code, w)
		assert.Empty(t, stdout, "refused before anything is printed")
		assert.Contains(t, stderr, "replicas apply each key independently")
		assert.Contains(t, stderr, "no atomic multi-key transactions")
	}
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	assert.Empty(t, entries, "no run folder")
	code, _, stderr := gauntlet(t, time.Minute, "run", "--workload", "list-append", "--consistency", "acid", "--out", out)
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, stderr, `consistency model "acid"`)
}

// examples/pystore serves /txn: valid as written, and caught with the
// switch that releases its lock between micro-ops.
func TestPythonStoreTransactions(t *testing.T) {
	sys := pystore(t)
	gauntlettest.Run(t, harness.Test{
		System: sys, Workload: "list-append", Nodes: 3, Concurrency: 6, Nemesis: []string{"kill"},
		NemesisInterval: seconds(3), TimeLimit: seconds(8), Seed: 1,
	})
	res := gauntlettest.RunCatch(t, harness.Test{
		System: sys, Workload: "list-append", Bug: "txn-op-by-op", Nodes: 3, Concurrency: 6,
		TimeLimit: seconds(6),
	}, 1, 2, 3)
	require.NotNil(t, res.FirstAnomaly())
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(res.Dir, harness.ConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cfg))
	assert.Equal(t, "strict-serializable", cfg["consistency"], "the system file's promise, recorded")
}
