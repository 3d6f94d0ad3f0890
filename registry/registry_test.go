package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// storedRun writes a run directory by hand: w1 writes 1, then a read that
// starts after the write completed returns nothing (a stale read).
func storedRun(t *testing.T, stale bool) string {
	t.Helper()
	dir := t.TempDir()
	tst := harness.Test{System: "raft", Deploy: "local", Workload: "register", Seed: 1}.WithDefaults()
	b, err := json.Marshal(tst)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.ConfigFile), b, 0o644))
	read := harness.Op{Process: 1, Type: harness.OK, F: harness.FRead, Key: "r", Value: harness.Str("1"), Time: 40}
	if stale {
		read.Value = nil
	}
	ops := []harness.Op{
		{Process: 0, Type: harness.Invoke, F: harness.FWrite, Key: "r", Value: harness.Str("1"), Time: 10},
		{Process: 0, Type: harness.OK, F: harness.FWrite, Key: "r", Value: harness.Str("1"), Time: 20},
		{Process: 1, Type: harness.Invoke, F: harness.FRead, Key: "r", Time: 30},
		read,
	}
	var lines []string
	for i, op := range ops {
		op.Index = i
		l, err := op.MarshalLine()
		require.NoError(t, err)
		lines = append(lines, string(l))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.HistoryFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	res := harness.Results{Test: tst, Checkers: []harness.Result{{Checker: harness.RecoveryChecker, Validity: harness.Valid}}}
	b, err = json.Marshal(res)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.ResultsFile), b, 0o644))
	return dir
}

func TestRecheck(t *testing.T) {
	res, err := Recheck(context.Background(), storedRun(t, true), 0, false)
	require.NoError(t, err)
	assert.Equal(t, harness.Invalid, res.Verdict)
	require.NotNil(t, res.FirstAnomaly())

	res, err = Recheck(context.Background(), storedRun(t, false), 0, false)
	require.NoError(t, err)
	assert.NotEqual(t, harness.Invalid, res.Verdict)
	var names []string
	for _, c := range res.Checkers {
		names = append(names, c.Checker)
	}
	assert.Contains(t, names, harness.RecoveryChecker, "the stored recovery result is carried over")
	assert.Contains(t, names, "convergence")
}

func TestRecheckWithoutResultsIsNotAPass(t *testing.T) {
	dir := storedRun(t, false)
	require.NoError(t, os.Remove(filepath.Join(dir, harness.ResultsFile)))
	res, err := Recheck(context.Background(), dir, 0, false)
	require.NoError(t, err)
	assert.True(t, res.Interrupted)
	assert.NotEqual(t, harness.Valid, res.Verdict)
}

func TestRecheckErrors(t *testing.T) {
	_, err := Recheck(context.Background(), t.TempDir(), 0, false)
	var ce *harness.ConfigError
	require.ErrorAs(t, err, &ce)

	dir := storedRun(t, false)
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.HistoryFile), []byte("{\"index\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\nnot json\n{}\n"), 0o644))
	_, err = Recheck(context.Background(), dir, 0, false)
	var se *harness.SyntaxError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, 2, se.Line)
}

func TestPartsRejectsWhatCannotRun(t *testing.T) {
	for _, tst := range []harness.Test{
		{System: "nosuch"},
		{Deploy: "nosuch"},
		{Workload: "nosuch"},
		{Nemesis: []string{"meteor"}},
		{Bug: "no-such-bug"},
	} {
		_, err := Parts(tst, Options{})
		var ce *harness.ConfigError
		assert.ErrorAs(t, err, &ce, "%+v", tst)
	}
	p, err := Parts(harness.Test{Nemesis: []string{"partition", "kill"}}, Options{})
	require.NoError(t, err)
	assert.Len(t, p.Nemeses, 2)
	assert.Equal(t, "raft", p.System.Name())
}

func TestEtcdTimeoutOptions(t *testing.T) {
	sys, err := System("etcd", map[string]string{OptEtcdElectionMS: "250", OptEtcdHeartbeatMS: "25"}, nil)
	require.NoError(t, err)
	l := sys.Launch("/bin/etcd", harness.NodeSpec{ID: "n1", Listen: "127.0.0.1:1", DataDir: "/d", Peers: map[string]string{"n1": "127.0.0.1:2"}})
	args := strings.Join(l.Args, " ")
	assert.Contains(t, args, "--election-timeout 250")
	assert.Contains(t, args, "--heartbeat-interval 25")

	sys, err = System("etcd", nil, nil)
	require.NoError(t, err)
	l = sys.Launch("/bin/etcd", harness.NodeSpec{ID: "n1", Listen: "127.0.0.1:1", DataDir: "/d", Peers: map[string]string{"n1": "127.0.0.1:2"}})
	assert.NotContains(t, strings.Join(l.Args, " "), "--election-timeout", "no option: etcd's defaults")

	for _, bad := range []map[string]string{
		{OptEtcdElectionMS: "fast"},
		{OptEtcdHeartbeatMS: "-5"},
		{OptEtcdElectionMS: "300"},                             // < 5 × the default 100 ms heartbeat
		{OptEtcdElectionMS: "1000", OptEtcdHeartbeatMS: "300"}, // < 5 heartbeats
		{"etcd-verison": "v3.6.8"},                             // a typo is not silently ignored
	} {
		_, err := Parts(harness.Test{System: "etcd", Options: bad}, Options{})
		var ce *harness.ConfigError
		assert.ErrorAs(t, err, &ce, "%v", bad)
	}

	// The options are flags of the command line that replays the run.
	tst := harness.Test{System: "etcd", Options: map[string]string{OptEtcdElectionMS: "250", OptEtcdHeartbeatMS: "25"}}.WithDefaults()
	assert.Contains(t, tst.CommandLine(), "--etcd-election-ms 250 --etcd-heartbeat-ms 25")
}
