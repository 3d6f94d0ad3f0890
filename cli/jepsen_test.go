package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
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

func checkFile(t *testing.T, content string, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "h.edn")
	require.NoError(t, os.WriteFile(in, []byte(content), 0o644))
	e, stdout, stderr := testEnv()
	args = append(append([]string{"check", "--format", "jepsen", "--out", filepath.Join(dir, "results")}, args...), in)
	code := dispatch(context.Background(), e, args)
	return code, stdout.String(), stderr.String()
}

// Knossos's multi-register tests start at {:x 0 :y 0}: with --initial the
// history is valid; from absent (the default) it is not.
func TestCheckJepsenInitial(t *testing.T) {
	h := "({:process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]]}\n" +
		" {:process 0, :type :ok, :f :txn, :value [[:r :x 0] [:r :y 0]]})"
	code, out, errOut := checkFile(t, h, "--model", "multi-register", "--initial", "{:x 0 :y 0}")
	assert.Equal(t, harness.ExitValid, code, out+errOut)
	assert.Contains(t, out, "initial {:x 0, :y 0}")
	code, out, _ = checkFile(t, h, "--model", "multi-register", "--initial", `{"x": 0, "y": 0}`)
	assert.Equal(t, harness.ExitValid, code, out)
	code, out, _ = checkFile(t, h, "--model", "multi-register")
	assert.Equal(t, harness.ExitInvalid, code, out)

	code, _, errOut = checkFile(t, h, "--model", "cas-register", "--initial", "{:x 0}")
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, errOut, "a map is for --model multi-register")
	code, _, errOut = checkFile(t, h, "--model", "set", "--initial", "0")
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, errOut, "--initial applies to the register")
}

// An import is judged by its model: too few ok ops for the stats checker
// leave it valid, unless --strict; re-checking the run directory keeps it.
func TestCheckJepsenImportVerdict(t *testing.T) {
	h := "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n" +
		"{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 1}\n"
	code, out, errOut := checkFile(t, h)
	require.Equal(t, harness.ExitValid, code, out+errOut)
	assert.Contains(t, out, "stats")
	assert.Contains(t, out, "shown, not deciding")
	code, out, _ = checkFile(t, h, "--strict")
	assert.Equal(t, harness.ExitUnknown, code, out)

	code, out, _ = checkFile(t, h, "--strict", "--initial", "1")
	require.Equal(t, harness.ExitUnknown, code, out)
	m := regexp.MustCompile(`results: (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	dir := m[1]
	e, stdout, _ := testEnv()
	assert.Equal(t, harness.ExitUnknown, dispatch(context.Background(), e, []string{"check", dir}), stdout.String())
	assert.Contains(t, stdout.String(), "initial 1")
}

// Lock histories: the mutex model; an op it cannot judge is exit 64 naming
// the op's place and :f.
func TestCheckJepsenMutex(t *testing.T) {
	ok := "[{:process 0 :type :invoke :f :acquire} {:process 0 :type :ok :f :acquire}\n" +
		" {:process 0 :type :invoke :f :release} {:process 0 :type :ok :f :release}]"
	code, out, errOut := checkFile(t, ok, "--model", "mutex")
	assert.Equal(t, harness.ExitValid, code, out+errOut)
	bad := "[{:process 0 :type :invoke :f :acquire} {:process 0 :type :ok :f :acquire}\n" +
		" {:process 1 :type :invoke :f :acquire} {:process 1 :type :ok :f :acquire}]"
	code, out, _ = checkFile(t, bad, "--model", "mutex")
	assert.Equal(t, harness.ExitInvalid, code, out)
	code, _, errOut = checkFile(t, ok, "--model", "cas-register")
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, errOut, "h.edn:1:2: op 1 (process 0, :invoke :acquire): :f :acquire is not an operation of the cas-register model")
}
