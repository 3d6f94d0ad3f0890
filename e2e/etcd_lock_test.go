package e2e

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/etcd"
)

// etcd's mutex (targets/etcd/lock.go) under kills: members die and come
// back, the holders' guarded work is checked against their leases, and
// every grant carries its key's create revision as the fencing token.
// Kills stall no lease answer in flight, so no holder can believe in a
// lease etcd has ended: mutual exclusion holds (docs/etcd.md §7).
func TestEtcdLockUnderKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs etcd: skipped with -short")
	}
	buildEtcd(t, etcdUnder)
	res := gauntlettest.Run(t, harness.Test{
		System: "etcd", Deploy: "local", Workload: "lock",
		Nemesis: []string{"kill"}, NemesisInterval: seconds(3),
		Nodes: 3, Concurrency: 4, TimeLimit: seconds(12), Seed: 1,
		Options: map[string]string{etcd.OptVersion: etcdUnder},
	})
	assertTokens(t, res)
}

// assertTokens: the lock checker ran, and every hold carries a token.
func assertTokens(t *testing.T, res *harness.Results) {
	t.Helper()
	for _, c := range res.Checkers {
		if c.Checker != mutex.Name {
			continue
		}
		var d mutex.Details
		require.NoError(t, json.Unmarshal(c.Details, &d))
		require.NotEmpty(t, d.Holds, "some acquire succeeded: %s", c.Summary)
		for _, h := range d.Holds {
			assert.True(t, h.HasToken, "hold of process %s at op %d has a fencing token", h.Process, h.StartIndex)
		}
		return
	}
	t.Fatal("no mutex checker ran")
}
