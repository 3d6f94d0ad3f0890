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

	tst, p, err := Resolve(harness.Test{System: "faketxn", Workload: "list-append"}, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, "serializable", tst.Consistency, "the system's promise, recorded")
	assert.Equal(t, []int{10, 1, 4, 32, 0}, []int{tst.Keys, tst.MinTxnLength, tst.MaxTxnLength, tst.MaxWritesPerKey, tst.Accounts},
		"config.json records every knob as resolved")
	assert.Equal(t, []harness.Feature{harness.FeatureTxnAppend}, harness.NeedsOf(p.Workload), "needs survive the convergence wrapper")
	var names []string
	for _, c := range p.Workload.Checkers() {
		names = append(names, c.Name())
	}
	assert.Equal(t, []string{"isolation", "stats", "convergence"}, names)

	tst, _, err = Resolve(harness.Test{System: "faketxn", Workload: "rw-register", Consistency: "read-committed"}, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, "read-committed", tst.Consistency, "the test's choice")

	tst, _, err = Resolve(harness.Test{System: "faketxn", Workload: "bank", Accounts: 3}, RunOptions{})
	require.NoError(t, err)
	assert.Empty(t, tst.Consistency, "the bank judges no isolation model")
	assert.Equal(t, 3, tst.Accounts)
	tst, _, err = Resolve(harness.Test{System: "faketxn", Workload: "kv"}, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, 8, tst.Keys)
	assert.Empty(t, tst.Consistency)

	// A stored run is re-checked against the model its config.json names.
	w, err := workload(harness.Test{Workload: "list-append", Consistency: "snapshot-isolation"}.WithDefaults(), false, "")
	require.NoError(t, err)
	assert.Equal(t, "snapshot-isolation", recordKnobs(harness.Test{}, w).Consistency)
	_, err = Parts(harness.Test{System: "faketxn", Workload: "kv", Consistency: "serializable"}, RunOptions{})
	assert.ErrorContains(t, err, "has no use for --consistency")
}
