package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// A stale read in Jepsen's independent form: key "x" was written 2 and then
// 3, and a later read still returned 2.
const staleEDN = `{:index 0, :time 1000, :type :invoke, :process 0, :f :write, :value ["x" 2]}
{:index 1, :time 2000, :type :ok, :process 0, :f :write, :value ["x" 2]}
{:index 2, :time 3000, :type :invoke, :process 1, :f :write, :value ["x" 3]}
{:index 3, :time 4000, :type :ok, :process 1, :f :write, :value ["x" 3]}
{:index 4, :time 5000, :type :invoke, :process 0, :f :read, :value ["x" nil]}
{:index 5, :time 6000, :type :ok, :process 0, :f :read, :value ["x" 2]}
{:index 6, :time 7000, :type :invoke, :process 1, :f :read, :value ["y" nil]}
{:index 7, :time 8000, :type :ok, :process 1, :f :read, :value ["y" nil]}
`

func TestCheckJepsenAndExportRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "history.edn")
	require.NoError(t, os.WriteFile(in, []byte(staleEDN), 0o644))
	out := filepath.Join(dir, "results")

	e, stdout, stderr := testEnv()
	code := dispatch(context.Background(), e, []string{"check", "--format", "jepsen", "--model", "cas-register", "--out", out, in})
	require.Equal(t, harness.ExitInvalid, code, "stdout: %s\nstderr: %s", stdout, stderr)
	assert.Contains(t, stdout.String(), "read of x returned 2")

	runs, err := filepath.Glob(filepath.Join(out, "imported-history", "*", harness.ReportFile))
	require.NoError(t, err)
	require.Len(t, runs, 1, "the import gets a run directory with a report")
	runDir := filepath.Dir(runs[0])

	// The imported run is a run: gauntlet check judges it the same way.
	e, stdout, _ = testEnv()
	assert.Equal(t, harness.ExitInvalid, dispatch(context.Background(), e, []string{"check", runDir}), stdout.String())

	// Export it and import the export: the same verdict.
	e, stdout, stderr = testEnv()
	require.Equal(t, 0, dispatch(context.Background(), e, []string{"export", "--format", "jepsen", runDir}), stderr.String())
	again := filepath.Join(dir, "again.edn")
	require.NoError(t, os.WriteFile(again, stdout.Bytes(), 0o644))
	assert.Equal(t, 8, strings.Count(stdout.String(), "\n"))
	e, stdout, _ = testEnv()
	assert.Equal(t, harness.ExitInvalid, dispatch(context.Background(), e, []string{"check", "--format", "jepsen", "--out", out, again}), stdout.String())
}

func TestCheckJepsenBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.edn")
	require.NoError(t, os.WriteFile(bad, []byte("{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value [1\n"), 0o644))
	e, _, stderr := testEnv()
	assert.Equal(t, harness.ExitUsage, dispatch(context.Background(), e, []string{"check", "--format", "jepsen", "--out", dir, bad}))
	assert.Contains(t, stderr.String(), "bad.edn:2:")

	e, _, stderr = testEnv()
	assert.Equal(t, harness.ExitUsage, dispatch(context.Background(), e, []string{"check", "--format", "jepsen", "--model", "queue", bad}))
	assert.Contains(t, stderr.String(), "want one of register, cas-register")

	e, _, stderr = testEnv()
	assert.Equal(t, harness.ExitUsage, dispatch(context.Background(), e, []string{"check", bad}))
	assert.Contains(t, stderr.String(), "--format jepsen")
}
