package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/etcd"
)

// etcd's transactions (list-append through Txn with mod-revision guards)
// are strict serializable under kills and pauses, judged against the
// promise etcd declares.
func TestEtcdListAppendIsValid(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs etcd: skipped with -short")
	}
	buildEtcd(t, etcdUnder)
	res := gauntlettest.Run(t, harness.Test{
		System: "etcd", Deploy: "local", Workload: "list-append",
		Nemesis: []string{"kill", "pause"}, NemesisInterval: seconds(3),
		Nodes: 3, Concurrency: 6, TimeLimit: seconds(10), Seed: 1,
		Options: map[string]string{etcd.OptVersion: etcdUnder},
	})
	assert.Equal(t, "strict-serializable", res.Test.Consistency, "etcd's promise is what was judged")
	for _, c := range res.Checkers {
		if c.Checker == "isolation" {
			assert.Equal(t, harness.Valid, c.Validity, c.Summary)
			assert.Contains(t, c.Summary, "transactions")
			return
		}
	}
	t.Fatal("no isolation checker ran")
}
