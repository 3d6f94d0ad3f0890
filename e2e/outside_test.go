package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// A team's system from a module outside this repository (examples/toy, its
// own go.mod with a replace to the root) gets what kvnode gets: a run folder
// with report and convergence verdict from its go test, a replay line that
// works, check and replay from its own binary, and clear refusals from a
// gauntlet that does not know it.
func TestOutsideModuleSystem(t *testing.T) {
	mod, err := filepath.Abs("../examples/toy")
	require.NoError(t, err)
	results := t.TempDir()
	goCmd := func(env []string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := goCmd([]string{"GAUNTLET_RESULTS=" + results}, "test", "-count=1", "-run", "^TestToy$", ".")
	require.NoError(t, err, out)

	runs, err := filepath.Glob(filepath.Join(results, "toy-*", "2*"))
	require.NoError(t, err)
	require.Len(t, runs, 1, "one run folder under <out>/<name>/<start>")
	run := runs[0]
	assert.FileExists(t, filepath.Join(run, harness.ReportFile))
	assert.FileExists(t, filepath.Join(results, "index.html"))
	res, err := harness.ReadResults(run)
	require.NoError(t, err)
	assert.Equal(t, harness.Valid, res.Verdict)
	assert.Equal(t, "toy", res.Test.System, "config names the system that ran")
	var conv *harness.Result
	for i := range res.Checkers {
		if res.Checkers[i].Checker == "convergence" {
			conv = &res.Checkers[i]
		}
	}
	require.NotNil(t, conv, "the toy reports digests: convergence is judged")
	assert.Equal(t, harness.Valid, conv.Validity)
	require.Contains(t, res.Command, gauntlettest.ReplayEnv+"=")

	// The printed replay line replays the run: same seed, a second folder.
	cmd := exec.Command("sh", "-c", res.Command)
	cmd.Env = append(os.Environ(), "GAUNTLET_RESULTS="+results)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	again, _ := filepath.Glob(filepath.Join(results, "toy-*", "2*"))
	require.Len(t, again, 2)
	replay, err := harness.ReadTest(again[1])
	require.NoError(t, err)
	assert.Equal(t, res.Test.Seed, replay.Seed)
	assert.Equal(t, res.Test.Nemesis, replay.Nemesis)

	// The team's own binary is the gauntlet command with toy registered.
	toyctl := filepath.Join(t.TempDir(), "toyctl")
	out, err = goCmd(nil, "build", "-o", toyctl, "./cmd/toyctl")
	require.NoError(t, err, out)
	code, stdout, stderr := runBin(t, toyctl, "check", run)
	assert.Equal(t, 0, code, stdout+stderr)
	other := t.TempDir()
	code, stdout, stderr = runBin(t, toyctl, "run", "--replay", run, "--time-limit", "3s", "--out", other)
	assert.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "replay:  toyctl run --replay "+other)

	// A nightly matrix over the team's system, from its own command.
	camp := t.TempDir()
	code, stdout, stderr = runBin(t, toyctl, "campaign", "--dir", camp, filepath.Join(mod, "campaign.yaml"))
	assert.Equal(t, 0, code, stdout+stderr)
	assert.FileExists(t, filepath.Join(camp, "summary.html"))
	assertNoProcessUnder(t, camp)

	// Stock gauntlet checks the stored run (a check needs the workload) ...
	code, stdout, stderr = gauntlet(t, time.Minute, "check", run)
	assert.Equal(t, 0, code, stdout+stderr)
	// ... but cannot run it again, and says how to.
	code, _, stderr = gauntlet(t, time.Minute, "run", "--replay", run)
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, stderr, `unknown system "toy"`)
	assert.Contains(t, stderr, "registry.Register")
	assert.Contains(t, stderr, "this run was made by: "+res.Command)

	// Shrink refuses what it cannot re-run, instead of trying in vain.
	require.NoError(t, os.WriteFile(filepath.Join(run, harness.ResultsFile),
		bytes.Replace(mustRead(t, filepath.Join(run, harness.ResultsFile)), []byte(`"verdict": "valid"`), []byte(`"verdict": "invalid"`), 1), 0o644))
	code, _, stderr = gauntlet(t, time.Minute, "shrink", run)
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, stderr, "cannot shrink")

	assertNoProcessUnder(t, results)
	assertNoProcessUnder(t, other)
}

func mustRead(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	return code, stdout.String(), stderr.String()
}

// assertNoProcessUnder fails if any process still runs with dir in its
// command line (a node of a run whose data lives there).
func assertNoProcessUnder(t *testing.T, dir string) {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), dir) {
			t.Errorf("process left behind: %s: %s", p, bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}
