package campaign

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecGivesWorkloadKnobsToEveryRun(t *testing.T) {
	p := filepath.Join(t.TempDir(), "txn.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`systems: [raft]
workloads: [list-append, rw-register]
nemesis: [none]
keys: 4
min_txn_length: 2
max_txn_length: 6
max_writes_per_key: 16
consistency: serializable
`), 0o644))
	s, err := LoadSpec(p)
	require.NoError(t, err)
	runs := s.Runs()
	require.Len(t, runs, 2)
	tst := s.Test(runs[0], baseTest(), "/tmp/x")
	assert.Equal(t, 4, tst.Keys)
	assert.Equal(t, 2, tst.MinTxnLength)
	assert.Equal(t, 6, tst.MaxTxnLength)
	assert.Equal(t, 16, tst.MaxWritesPerKey)
	assert.Zero(t, tst.Accounts)
	assert.Equal(t, "serializable", tst.Consistency)
	assert.Contains(t, tst.CommandLine(), "--max-writes-per-key 16 --consistency serializable")

	require.NoError(t, os.WriteFile(p, []byte("systems: [raft]\nworkloads: [bank]\naccounts: -1\n"), 0o644))
	_, err = LoadSpec(p)
	assert.ErrorContains(t, err, "accounts must not be negative")
}
