package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/consul"
)

func buildConsul(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs Consul: skipped with -short")
	}
	buildTarget(t, "consul "+consul.DefaultVersion, consul.New(consul.Options{Logf: t.Logf}).Build)
}

// Consul's consistent reads (the leader confirms its leadership with a
// quorum before answering) stay linearizable under kills and pauses, and
// the servers converge.
func TestConsulConsistentIsValid(t *testing.T) {
	buildConsul(t)
	gauntlettest.Run(t, harness.Test{
		System: "consul", Deploy: "local", Workload: "kv",
		Nemesis: []string{"kill", "pause"}, NemesisInterval: seconds(3),
		Nodes: 3, Concurrency: 6, TimeLimit: seconds(12), Seed: 1,
		Options: map[string]string{consul.OptReadMode: consul.ReadConsistent},
	})
}

// Consul's stale reads (any server answers from its own state) are caught
// as not linearizable, and the read that proves it carries the note that
// says why. Followers lag the leader by a replication round trip, so this
// needs no fault; kills and pauses widen the lag.
func TestConsulStaleIsInvalid(t *testing.T) {
	buildConsul(t)
	res := gauntlettest.RunExpect(t, harness.Test{
		System: "consul", Deploy: "local", Workload: "kv",
		Nemesis: []string{"kill", "pause"}, NemesisInterval: seconds(3),
		Nodes: 3, Concurrency: 6, TimeLimit: seconds(12), Seed: 1, StopOnViolation: true,
		Options: map[string]string{consul.OptReadMode: consul.ReadStale},
	}, harness.Invalid)
	a := res.FirstAnomaly()
	require.NotNil(t, a)
	assert.Equal(t, linearizable.Name, a.Checker)
	assert.Contains(t, a.Explanation, consul.StaleNote[consul.ReadStale])
}
