package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/consul"
)

// Consul's transactions (list-append through /v1/txn with check-index
// guards) with consistent reads are strict serializable under kills and
// pauses, the model Consul declares in that mode.
func TestConsulListAppendIsValid(t *testing.T) {
	buildConsul(t)
	res := gauntlettest.Run(t, harness.Test{
		System: "consul", Deploy: "local", Workload: "list-append",
		Nemesis: []string{"kill", "pause"}, NemesisInterval: seconds(3),
		Nodes: 3, Concurrency: 6, TimeLimit: seconds(10), Seed: 1,
		Options: map[string]string{consul.OptReadMode: consul.ReadConsistent},
	})
	assert.Equal(t, "strict-serializable", res.Test.Consistency, "Consul's promise with consistent reads is what was judged")
	for _, c := range res.Checkers {
		if c.Checker == "isolation" {
			assert.Equal(t, harness.Valid, c.Validity, c.Summary)
			assert.Contains(t, c.Summary, "transactions")
			return
		}
	}
	t.Fatal("no isolation checker ran")
}
