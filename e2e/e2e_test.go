// Package e2e runs Gauntlet end to end: real kvnode processes on the local
// deployment, real faults, the real checkers, through gauntlettest and
// through the gauntlet command. Runs are kept short (2 cores in CI).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// gauntletBin is the command under test, built once by TestMain.
var gauntletBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gauntlet-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gauntletBin = filepath.Join(dir, "gauntlet")
	build := exec.Command("go", "build", "-o", gauntletBin, "github.com/gauntlet-dev/gauntlet/cmd/gauntlet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gauntlet:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func seconds(n int) harness.Duration { return harness.Duration(time.Duration(n) * time.Second) }

// The correct raft store stays linearizable under partitions, kills and pauses.
func TestCorrectRaftIsValid(t *testing.T) {
	gauntlettest.Run(t, harness.Test{
		System: "raft", Deploy: "local", Workload: "kv",
		Nemesis: []string{"partition", "kill", "pause"}, NemesisInterval: seconds(3),
		Nodes: 5, Concurrency: 10, TimeLimit: seconds(15), Seed: 1,
	})
}

// Stale local reads are caught: a partitioned old leader serves what it has.
// The run stops at the first proved violation; its time limit only bounds
// a loaded machine's slower runs.
func TestStaleReadIsInvalid(t *testing.T) {
	res := gauntlettest.RunExpect(t, harness.Test{
		System: "raft", Deploy: "local", Workload: "kv", Bug: "stale-read",
		Nemesis: []string{"partition"}, NemesisInterval: seconds(3),
		Nodes: 5, Concurrency: 10, TimeLimit: seconds(60), StopOnViolation: true, Seed: 2,
	}, harness.Invalid)
	a := res.FirstAnomaly()
	require.NotNil(t, a)
	assert.NotEmpty(t, a.Explanation)
}

// gauntlet runs the command and returns its exit status and output.
func gauntlet(t *testing.T, timeout time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gauntletBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("gauntlet %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return code, stdout.String(), stderr.String()
}

// resultsLine finds the run directory the command printed.
func resultsLine(t *testing.T, stdout string) string {
	t.Helper()
	for _, l := range strings.Split(stdout, "\n") {
		if dir, ok := strings.CutPrefix(l, "results: "); ok {
			return strings.TrimSpace(dir)
		}
	}
	t.Fatalf("no results line in output:\n%s", stdout)
	return ""
}

// A buggy run through the command: exit 1, the anomaly in words, the results
// path; `gauntlet check` agrees, also on a truncated history, and a malformed
// history exits 64 naming the line.
func TestCommandFindsStaleReadAndChecksAgain(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := gauntlet(t, 3*time.Minute, "run", "--bug", "stale-read", "--nemesis", "partition",
		"--nemesis-interval", "3s", "--time-limit", "15s", "--seed", "3", "--out", out)
	require.Equal(t, harness.ExitInvalid, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	assert.Contains(t, stdout, "verdict: INVALID")
	assert.Contains(t, stdout, "first anomaly")
	dir := resultsLine(t, stdout)
	for _, f := range []string{harness.ConfigFile, harness.HistoryFile, harness.ResultsFile, harness.DigestsFile} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	assert.DirExists(t, filepath.Join(dir, harness.NodesDir))
	latest, err := filepath.EvalSymlinks(filepath.Join(out, "latest"))
	require.NoError(t, err)
	realDir, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Equal(t, realDir, latest)

	code, stdout, stderr = gauntlet(t, 2*time.Minute, "check", dir)
	assert.Equal(t, harness.ExitInvalid, code, "check gives the run's verdict\n%s\n%s", stdout, stderr)
	assert.Contains(t, stdout, "verdict: invalid")

	// shrink finds a shorter run that still fails (stale reads show at once).
	code, stdout, stderr = gauntlet(t, 3*time.Minute, "shrink", "--max-tries", "2", "--out", t.TempDir(), dir)
	require.Equal(t, 0, code, "%s\n%s", stdout, stderr)
	assert.Contains(t, stdout, "-> invalid")
	assert.Regexp(t, `smallest failing configuration:\n\s+gauntlet run .*--time-limit [2-9]s`, stdout)

	// A harness killed mid-write leaves a torn last line: still checked.
	hist, err := os.ReadFile(filepath.Join(dir, harness.HistoryFile))
	require.NoError(t, err)
	cut := t.TempDir()
	copyRun(t, dir, cut)
	torn := hist[:len(hist)*2/3]
	if torn[len(torn)-1] == '\n' {
		torn = torn[:len(torn)-1]
	}
	require.NoError(t, os.WriteFile(filepath.Join(cut, harness.HistoryFile), torn, 0o644))
	require.NoError(t, os.Remove(filepath.Join(cut, harness.ResultsFile))) // it died before writing it
	code, stdout, stderr = gauntlet(t, 2*time.Minute, "check", cut)
	assert.Contains(t, []int{harness.ExitValid, harness.ExitInvalid, harness.ExitUnknown}, code, "%s\n%s", stdout, stderr)
	assert.Contains(t, stdout, "did not finish")

	// A malformed line in the middle is an input error naming the line.
	lines := strings.SplitAfter(string(hist), "\n")
	require.Greater(t, len(lines), 10)
	lines[4] = "{\"index\": 4, this is not json\n"
	require.NoError(t, os.WriteFile(filepath.Join(cut, harness.HistoryFile), []byte(strings.Join(lines, "")), 0o644))
	code, _, stderr = gauntlet(t, time.Minute, "check", cut)
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, stderr, "history.jsonl:5:")
}

func copyRun(t *testing.T, from, to string) {
	t.Helper()
	for _, f := range []string{harness.ConfigFile, harness.ResultsFile, harness.DigestsFile} {
		b, err := os.ReadFile(filepath.Join(from, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(to, f), b, 0o644))
	}
}

// A correct run through the command exits 0 and `check` agrees.
func TestCommandCorrectRunChecksValid(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := gauntlet(t, 3*time.Minute, "run", "--nodes", "3", "--nemesis", "partition,kill,pause",
		"--nemesis-interval", "3s", "--time-limit", "10s", "--seed", "4", "--out", out)
	require.Equal(t, harness.ExitValid, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	dir := resultsLine(t, stdout)
	code, stdout, _ = gauntlet(t, 2*time.Minute, "check", dir)
	assert.Equal(t, harness.ExitValid, code, stdout)

	// --replay repeats the fault schedule (which package, in which order)
	// and the op mix. Targets like "the leader" depend on the cluster.
	code, stdout, stderr = gauntlet(t, 3*time.Minute, "run", "--replay", dir, "--out", out)
	require.Equal(t, harness.ExitValid, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	again := resultsLine(t, stdout)
	require.NotEqual(t, dir, again)
	f1, ops1 := schedule(t, dir)
	f2, ops2 := schedule(t, again)
	n := min(len(f1), len(f2))
	require.GreaterOrEqual(t, n, 2)
	assert.Equal(t, f1[:n], f2[:n])
	// Workers interleave differently, so compare how many of each kind.
	assert.InDelta(t, ops1["read"]/float64(ops1["all"]), ops2["read"]/float64(ops2["all"]), 0.05)
}

// schedule returns the fault ops' functions in order and the mix of client
// invocations of a stored run.
func schedule(t *testing.T, dir string) ([]string, map[string]float64) {
	t.Helper()
	h, err := harness.ReadHistory(filepath.Join(dir, harness.HistoryFile))
	require.NoError(t, err)
	var faults []string
	mix := map[string]float64{}
	for _, op := range h {
		switch {
		case op.IsNemesis() && op.Type == harness.Invoke:
			faults = append(faults, op.F)
		case !op.IsNemesis() && op.Type == harness.Invoke:
			mix[op.F]++
			mix["all"]++
		}
	}
	return faults, mix
}

// Ctrl-C mid-run: teardown completes, no kvnode is left, the history is kept.
func TestInterruptLeavesNoNodesAndKeepsHistory(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(gauntletBin, "run", "--nodes", "3", "--nemesis", "kill,pause", "--nemesis-interval", "2s",
		"--time-limit", "2m", "--seed", "5", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Wait until the main phase has recorded ops.
	var hist string
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "*", "*", harness.HistoryFile))
		if len(m) == 0 {
			return false
		}
		hist = m[0]
		fi, err := os.Stat(hist)
		return err == nil && fi.Size() > 4096
	}, 90*time.Second, 200*time.Millisecond, "no history grew\n%s\n%s", &stdout, &stderr)
	require.NotEmpty(t, nodeProcesses(t, out), "kvnode processes run during the test")

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("gauntlet did not end after SIGINT\n%s\n%s", &stdout, &stderr)
	}
	code := cmd.ProcessState.ExitCode()
	assert.Contains(t, []int{harness.ExitInterrupted, harness.ExitInvalid}, code, "%s\n%s", &stdout, &stderr)
	assert.Contains(t, stdout.String(), "interrupted")
	assert.Empty(t, nodeProcesses(t, out), "no node process is left")

	h, err := harness.ReadHistory(hist)
	require.NoError(t, err)
	assert.NotEmpty(t, h.Client())
	var res harness.Results
	b, err := os.ReadFile(filepath.Join(filepath.Dir(hist), harness.ResultsFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &res))
	assert.True(t, res.Interrupted)
	assert.NotEqual(t, harness.Valid, res.Verdict, "an interrupted run is never valid")
}

// nodeProcesses lists live processes whose command line mentions dir (the
// nodes' data directories live under the run directory).
func nodeProcesses(t *testing.T, dir string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	self := fmt.Sprint(os.Getpid())
	var found []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		pid := filepath.Base(filepath.Dir(p))
		cmdline := strings.ReplaceAll(string(b), "\x00", " ")
		if pid == self || strings.HasPrefix(cmdline, gauntletBin) {
			continue
		}
		if strings.Contains(cmdline, dir) {
			if st, err := os.ReadFile(filepath.Join("/proc", pid, "stat")); err == nil && strings.Contains(string(st), ") Z ") {
				continue // a zombie holds nothing
			}
			found = append(found, pid+": "+cmdline)
		}
	}
	return found
}

// Bad arguments: one clear message and exit 64, before anything starts.
func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--nodes", "many"},
		{"run", "--nemesis", "meteor"},
		{"run", "--system", "mongodb"},
		{"run", "--bug", "no-such-bug"},
		{"run", "--time-limit", "-1s"},
		{"check", filepath.Join(t.TempDir(), "nothing")},
		{"serve", "--addr", "0.0.0.0:0", t.TempDir()},
		{"frobnicate"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := gauntlet(t, 30*time.Second, args...)
			assert.Equal(t, harness.ExitUsage, code, "%s\n%s", stdout, stderr)
			assert.NotEmpty(t, strings.TrimSpace(stderr))
			assert.LessOrEqual(t, strings.Count(strings.TrimSpace(stderr), "\n"), 2, "one clear message:\n%s", stderr)
		})
	}
}

func TestBugsListsTheCatalog(t *testing.T) {
	code, stdout, stderr := gauntlet(t, time.Minute, "bugs", "--system", "raft")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "stale-read")
}

// A harness killed with SIGKILL leaves a history that `gauntlet check` still
// judges (a torn last line is dropped), and its nodes die with it.
func TestKilledHarnessLeavesACheckableHistory(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command(gauntletBin, "run", "--nodes", "3", "--nemesis", "partition", "--nemesis-interval", "2s",
		"--time-limit", "2m", "--seed", "6", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var hist string
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "*", "*", harness.HistoryFile))
		if len(m) == 0 {
			return false
		}
		hist = m[0]
		fi, err := os.Stat(hist)
		return err == nil && fi.Size() > 64<<10
	}, 90*time.Second, 100*time.Millisecond, "no history grew\n%s\n%s", &stdout, &stderr)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	assert.Eventually(t, func() bool { return len(nodeProcesses(t, out)) == 0 }, 10*time.Second, 100*time.Millisecond,
		"nodes outlive a SIGKILLed harness: %v", nodeProcesses(t, out))
	for _, p := range nodeProcesses(t, out) { // do not leak them into other tests
		var pid int
		if _, err := fmt.Sscanf(p, "%d:", &pid); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}

	dir := filepath.Dir(hist)
	assert.NoFileExists(t, filepath.Join(dir, harness.ResultsFile))
	code, stdout2, stderr2 := gauntlet(t, 2*time.Minute, "check", dir)
	assert.Contains(t, []int{harness.ExitValid, harness.ExitInvalid, harness.ExitUnknown}, code, "%s\n%s", stdout2, stderr2)
	assert.NotEqual(t, harness.ExitValid, code, "a run that did not finish is not a pass")
	assert.Contains(t, stdout2, "did not finish")
	h, err := harness.ReadHistory(hist)
	require.NoError(t, err)
	assert.Greater(t, len(h.Client()), 100)
}
