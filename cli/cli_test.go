package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func testEnv() (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{stdout: &out, stderr: &errb}, &out, &errb
}

func parseRun(t *testing.T, args ...string) (harness.Test, error) {
	t.Helper()
	e, _, errb := testEnv()
	f := newRunFlags(e)
	code, stop := parseFlags(e, f.fs, args)
	require.False(t, stop, "exit %d: %s", code, errb)
	return f.test()
}

func TestRunFlagsDefaults(t *testing.T) {
	tst, err := parseRun(t)
	require.NoError(t, err)
	assert.Equal(t, "raft", tst.System)
	assert.Equal(t, "local", tst.Deploy)
	assert.Equal(t, []string{"feedback"}, tst.Nemesis, "the default schedule is the steered one")
	assert.Equal(t, harness.DefaultTimeLimit, tst.TimeLimit.D())
	assert.NotZero(t, tst.Seed, "a random seed is chosen")
	tst2, err := parseRun(t)
	require.NoError(t, err)
	assert.NotEqual(t, tst.Seed, tst2.Seed)
}

func TestRunFlagsRoundTripThroughCommandLine(t *testing.T) {
	tst, err := parseRun(t, "--system", "quorum", "--nemesis", "kill", "--nodes", "3", "--concurrency", "4",
		"--time-limit", "7s", "--seed", "99", "--rate", "50", "--bug", "stale-read", "--nemesis-interval", "2s",
		"--op-timeout", "3s", "--recovery-limit", "45s", "--check-timeout", "2m0s", "--read-fraction", "0.7",
		"--deploy", "ssh", "--hosts", "/etc/gauntlet/hosts.yaml")
	require.NoError(t, err)
	assert.EqualValues(t, 99, tst.Seed)
	assert.Equal(t, "/etc/gauntlet/hosts.yaml", tst.Hosts)
	// CommandLine must parse back into the same test.
	args := strings.Fields(tst.WithDefaults().CommandLine())[2:]
	back, err := parseRun(t, args...)
	require.NoError(t, err)
	assert.Equal(t, tst.WithDefaults(), back.WithDefaults())
	assert.Contains(t, tst.CommandLine(), "--op-timeout 3s --recovery-limit 45s --check-timeout 2m0s")
	def, err := parseRun(t)
	require.NoError(t, err)
	assert.NotContains(t, def.WithDefaults().CommandLine(), "timeout", "defaults are left out")
}

func TestReplayUsesStoredConfigAndOverrides(t *testing.T) {
	dir := t.TempDir()
	stored := harness.Test{Name: "x", System: "raft", Deploy: "local", Workload: "register", Nemesis: []string{"kill"},
		Nodes: 3, Concurrency: 2, TimeLimit: harness.Duration(9 * time.Second), Seed: 1234, Out: "/elsewhere"}.WithDefaults()
	require.NoError(t, writeTestJSON(filepath.Join(dir, harness.ConfigFile), stored))
	tst, err := parseRun(t, "--replay", dir, "--time-limit", "3s")
	require.NoError(t, err)
	assert.EqualValues(t, 1234, tst.Seed, "the stored seed")
	assert.Equal(t, []string{"kill"}, tst.Nemesis)
	assert.Equal(t, "register", tst.Workload)
	assert.Equal(t, 3*time.Second, tst.TimeLimit.D(), "an explicit flag overrides")
	assert.Equal(t, harness.DefaultOut, tst.Out)
}

func writeTestJSON(path string, tst harness.Test) error {
	b, err := json.Marshal(tst)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func TestBadFlagsExit64WithOneLine(t *testing.T) {
	for _, args := range [][]string{{"run", "--nodes", "x"}, {"run", "--time-limit", "0s"}, {"run", "extra"}, {"nope"}, {"check"},
		{"run", "--read-fraction", "1.5"}, {"bench", "reproduce", "--registry", "no-such.yaml"},
		{"bench", "reproduce", "--registry", "../campaigns/reproduce.yaml", "--only", "no such bug"}, {"run", "--system", "consul", "--consul-read-mode", "linear"}} {
		e, _, errb := testEnv()
		code := dispatch(context.Background(), e, args)
		assert.Equal(t, harness.ExitUsage, code, args)
		assert.Equal(t, 1, strings.Count(errb.String(), "\n"), "%v: %q", args, errb)
	}
	e, out, _ := testEnv()
	assert.Equal(t, 0, dispatch(context.Background(), e, []string{"run", "-h"}))
	assert.Contains(t, out.String(), "-time-limit")
}

// A program built on Main names itself in its usage lines and messages.
func TestUsageNamesTheProgram(t *testing.T) {
	for _, cmd := range []string{"run", "shrink", "campaign", "check", "bugs"} {
		e, out, _ := testEnv()
		e.program = "toyctl"
		assert.Equal(t, 0, dispatch(context.Background(), e, []string{cmd, "-h"}), cmd)
		assert.True(t, strings.HasPrefix(out.String(), "usage: toyctl "+cmd+" "), "%s: %q", cmd, out)
		assert.NotContains(t, out.String(), "gauntlet "+cmd, cmd)
	}
	e, out, errb := testEnv()
	e.program = "toyctl"
	dispatch(context.Background(), e, []string{"shrink", "--no-such-flag"})
	assert.Contains(t, errb.String(), "toyctl shrink: ")
	assert.Contains(t, errb.String(), "see `toyctl shrink -h`")
	dispatch(context.Background(), e, []string{"help"})
	assert.Contains(t, out.String(), "  toyctl run ")
}

func TestServeRefusesRemote(t *testing.T) {
	assert.NoError(t, loopbackOnly("127.0.0.1:8080"))
	assert.NoError(t, loopbackOnly("localhost:0"))
	assert.NoError(t, loopbackOnly("[::1]:80"))
	assert.Error(t, loopbackOnly(":8080"))
	assert.Error(t, loopbackOnly("0.0.0.0:8080"))
	assert.Error(t, loopbackOnly("192.168.1.2:8080"))
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgressLine(&b, false)
	p.update(harness.Progress{Phase: harness.PhaseSetup})
	p.update(harness.Progress{Phase: harness.PhaseMain, Elapsed: time.Second, Remaining: 9 * time.Second, OK: 5, Fail: 1, Info: 2, Rate: 100,
		Faults: []string{"partition {n1} | {n2,n3}"}})
	p.update(harness.Progress{Phase: harness.PhaseMain, Elapsed: 2 * time.Second}) // within 5 s: not printed
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[1], "ok 5 fail 1 info 2")
	assert.Contains(t, lines[1], "faults: partition")
	assert.NotContains(t, b.String(), "\r")

	b.Reset()
	tty := newProgressLine(&b, true)
	tty.update(harness.Progress{Phase: harness.PhaseMain, Elapsed: time.Second, Remaining: time.Second})
	tty.println("interrupted")
	assert.Contains(t, b.String(), "\r\033[K")
}

func TestFlagsAfterArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--budget", "2h", "f.yaml"}, []string{"f.yaml"}},
		{[]string{"f.yaml", "--budget", "2h"}, []string{"f.yaml"}},
		{[]string{"a", "--budget=2h", "b"}, []string{"a", "b"}},
		{[]string{"--budget", "2h", "--", "-odd", "--budget"}, []string{"-odd", "--budget"}},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		budget := fs.Duration("budget", 0, "")
		require.NoError(t, parseInterspersed(fs, tc.args), tc.args)
		assert.Equal(t, 2*time.Hour, *budget, tc.args)
		assert.Equal(t, tc.want, fs.Args(), tc.args)
	}
}

// `gauntlet report DIR` on a run folder outside <out>/<name>/<start> writes
// its report and no index into the folders above it.
func TestReportOutsideResultsWritesNoIndexAbove(t *testing.T) {
	top := t.TempDir()
	run := filepath.Join(top, "copied-run")
	require.NoError(t, os.MkdirAll(run, 0o755))
	tst := harness.Test{System: "raft", Workload: "register", Seed: 1}.WithDefaults()
	require.NoError(t, harness.WriteJSON(filepath.Join(run, harness.ConfigFile), tst))
	require.NoError(t, os.WriteFile(filepath.Join(run, harness.HistoryFile), nil, 0o644))
	require.NoError(t, harness.WriteJSON(filepath.Join(run, harness.ResultsFile), harness.Results{Test: tst, Verdict: harness.Valid}))
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), &env{stdout: &out, stderr: &errb}, []string{"report", run})
	require.Equal(t, 0, code, errb.String())
	assert.FileExists(t, filepath.Join(run, harness.ReportFile))
	assert.NoFileExists(t, filepath.Join(top, "index.html"))
	assert.NoFileExists(t, filepath.Join(filepath.Dir(top), "index.html"))
}

// The verdict column lines up whatever the checkers are called: the
// runner's election-safety is wider than the usual names.
func TestCheckerLinesAlign(t *testing.T) {
	var b bytes.Buffer
	printCheckers(&b, []harness.Result{
		{Checker: "register", Validity: harness.Valid, Summary: "all keys linearizable"},
		{Checker: harness.ElectionChecker, Validity: harness.Invalid, Summary: "two leaders"},
		{Checker: harness.RecoveryChecker, Validity: harness.Valid, Summary: "all read"},
	}, nil)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	col := strings.Index(lines[1], "invalid")
	require.Positive(t, col)
	assert.Equal(t, col, strings.Index(lines[0], "valid"), "%q", b.String())
	assert.Equal(t, col, strings.Index(lines[2], "valid"), "%q", b.String())
	assert.Contains(t, lines[1], harness.ElectionChecker+" invalid")
}
