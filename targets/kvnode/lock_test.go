package kvnode

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

func TestRaftOffersLocksQuorumSaysWhyNot(t *testing.T) {
	w, err := workloads.New("lock", workloads.Options{})
	require.NoError(t, err)
	raft, quorum := New("raft"), New("quorum")
	assert.NoError(t, harness.Serves(raft, w))
	err = harness.Serves(quorum, w)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `workload "lock" needs lock`)
	assert.Contains(t, err.Error(), "quorum mode has no leader and no single order")
	var bug *harness.Bug
	for _, b := range harness.BugsOf(raft) {
		if b.Name == "lock-local-lease" {
			bug = &b
		}
	}
	require.NotNil(t, bug, "the lock bug is in the catalog")
	assert.Equal(t, "lock", bug.Workload)
}
