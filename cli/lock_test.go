package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// lockRun writes a lock workload's run folder with the given ops.
func lockRun(t *testing.T, ops ...harness.Op) string {
	dir := t.TempDir()
	tst := harness.Test{System: "raft", Deploy: "local", Workload: "lock", Seed: 1}.WithDefaults()
	b, err := json.Marshal(tst)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.ConfigFile), b, 0o644))
	var lines []string
	for i, op := range ops {
		op.Index, op.Time = i, int64(i)*1e8
		l, err := op.MarshalLine()
		require.NoError(t, err)
		lines = append(lines, string(l))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.HistoryFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return dir
}

// A lock run whose ok acquire carries a token that is not a number is bad
// input: exit 64 naming the op and its line. A release by a process that
// never held the lock is an anomaly naming the op: exit 1.
func TestCheckLockRuns(t *testing.T) {
	acq := harness.Op{Process: 0, Type: harness.Invoke, F: harness.FAcquire, Key: "lock0"}
	bad := acq.Complete(harness.OK)
	bad.Value = harness.Str("seven")
	e, _, stderr := testEnv()
	assert.Equal(t, harness.ExitUsage, dispatch(context.Background(), e, []string{"check", lockRun(t, acq, bad)}))
	assert.Contains(t, stderr.String(), `history.jsonl:2: op 1 (0 ok acquire lock0=seven): the fencing token "seven" of an ok acquire is not a non-negative decimal integer`)

	rel := harness.Op{Process: 3, Type: harness.Invoke, F: harness.FRelease, Key: "lock0"}
	good := acq.Complete(harness.OK)
	good.Value = harness.Str("4")
	e, stdout, _ := testEnv()
	assert.Equal(t, harness.ExitInvalid, dispatch(context.Background(), e, []string{"check", lockRun(t, acq, good, rel, rel.Complete(harness.OK))}))
	assert.Contains(t, stdout.String(), "process 3 released lock0 at 0.30 s (op 3) but never held it")
}
