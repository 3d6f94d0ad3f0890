package kvnode

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

type listAppend struct{ harness.Workload }

func (listAppend) Name() string             { return "list-append" }
func (listAppend) Needs() []harness.Feature { return []harness.Feature{harness.FeatureTxnAppend} }

func TestRaftOffersTransactionsQuorumSaysWhyNot(t *testing.T) {
	raft, quorum := New("raft"), New("quorum")
	assert.NoError(t, harness.Serves(raft, listAppend{}))
	assert.Equal(t, "strict-serializable", harness.ConsistencyOf(raft))
	err := harness.Serves(quorum, listAppend{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "replicas apply each key independently")
	assert.Contains(t, err.Error(), "no atomic multi-key transactions")
	assert.Empty(t, harness.ConsistencyOf(quorum))
	var names []string
	for _, b := range harness.BugsOf(raft) {
		names = append(names, b.Name)
	}
	for _, b := range []string{"txn-local-read", "txn-key-by-key", "txn-blind-write", "txn-write-skew"} {
		assert.Contains(t, names, b)
	}
}
