package registry

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

var _ harness.Digester = txnSystem{}

// txnSystem offers transactions, promises serializability and makes
// digests (so its workloads are wrapped with the convergence checker).
type txnSystem struct{ fakeSystem }

func (txnSystem) Features() []harness.Feature {
	return []harness.Feature{harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd}
}
func (txnSystem) Consistency() string { return "serializable" }
func (txnSystem) Digest(context.Context, harness.Node) (harness.Digest, error) {
	return harness.Digest{}, nil
}

func init() {
	Register(SystemDef{Name: "faketxn", New: func(Config) (harness.System, error) { return txnSystem{fakeSystem{"faketxn"}}, nil }})
}

func TestTransactionalWorkloadsResolve(t *testing.T) {
	_, err := Parts(harness.Test{System: "fake", Workload: "list-append"}, RunOptions{})
	var ce *harness.ConfigError
	require.ErrorAs(t, err, &ce, "a system without transactions is refused before anything starts")
	assert.Contains(t, err.Error(), `needs txn-append, which system "fake" does not offer`)

	p, err := Parts(harness.Test{System: "faketxn", Workload: "list-append"}, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, "serializable", judgedAgainst(p.Workload), "the system's promise")
	assert.Equal(t, []harness.Feature{harness.FeatureTxnAppend}, harness.NeedsOf(p.Workload), "needs survive the convergence wrapper")
	var names []string
	for _, c := range p.Workload.Checkers() {
		names = append(names, c.Name())
	}
	assert.Equal(t, []string{"isolation", "stats", "convergence"}, names)

	p, err = Parts(harness.Test{System: "faketxn", Workload: "rw-register", Consistency: "read-committed"}, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, "read-committed", judgedAgainst(p.Workload), "the test's choice")

	p, err = Parts(harness.Test{System: "faketxn", Workload: "bank", Accounts: 3}, RunOptions{})
	require.NoError(t, err)
	assert.Empty(t, judgedAgainst(p.Workload), "the bank judges no isolation model")

	// A stored run is re-checked against the model its config.json names.
	w, err := workload(harness.Test{Workload: "list-append", Consistency: "snapshot-isolation"}.WithDefaults(), false, "")
	require.NoError(t, err)
	assert.Equal(t, "snapshot-isolation", judgedAgainst(w))
	_, err = Parts(harness.Test{System: "faketxn", Workload: "kv", Consistency: "serializable"}, RunOptions{})
	assert.ErrorContains(t, err, "has no use for --consistency")
}
