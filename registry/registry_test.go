package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/harness/harnesstest"
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
	res := harness.Results{Test: tst, Checkers: []harness.Result{{Checker: harness.RecoveryChecker, Validity: harness.Valid}, {Checker: "convergence", Validity: harness.Valid}}}
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

// fakeSystem is a minimal system registered by the tests, as a team would.
type fakeSystem struct{ name string }

func (f fakeSystem) Name() string { return f.name }
func (fakeSystem) Launch(context.Context, harness.NodeSpec) (harness.Launch, error) {
	return harness.Launch{Binary: "/bin/true"}, nil
}
func (fakeSystem) NewClient(harness.Node) (harness.Client, error) {
	return nil, harness.ErrUnsupported
}

var fakeOpts = []Option{{Name: "fake-fast", Kind: Bool}, {Name: "fake-n", Kind: Int, Default: "3"}, {Name: "fake-wait", Kind: Duration}}

// The in-memory deployment stands in for "local" (the default), which
// registers itself from deploy/local, a package these tests cannot import
// (it imports this one).
func init() {
	RegisterDeployment("local", func(harness.Test, harness.Logger) (harness.Deployment, error) {
		return &harnesstest.Deployment{DeployName: "local"}, nil
	})
	Register(SystemDef{Name: "fake", Options: fakeOpts, New: func(c Config) (harness.System, error) {
		if c.Int("fake-n") < 1 {
			return nil, errors.New("--fake-n must be at least 1")
		}
		return fakeSystem{"fake"}, nil
	}})
	Register(SystemDef{Name: "fakeexec", Scheme: true, New: func(c Config) (harness.System, error) {
		return fakeSystem{c.Name}, nil
	}})
}

func TestPartsRejectsWhatCannotRun(t *testing.T) {
	for _, tst := range []harness.Test{
		{System: "nosuch"},
		{System: "fake", Deploy: "nosuch"},
		{System: "fake", Workload: "nosuch"},
		{System: "fake", Nemesis: []string{"meteor"}},
		{System: "fake", Bug: "no-such-bug"},
		{System: "fake", Options: map[string]string{"fake-fast": "maybe"}},
		{System: "fake", Options: map[string]string{"fake-n": "0"}},
		{System: "fake", Options: map[string]string{"fake-nn": "3"}},
		{System: "fakeexec"},
	} {
		_, err := Parts(tst, RunOptions{})
		var ce *harness.ConfigError
		assert.ErrorAs(t, err, &ce, "%+v", tst)
	}
	p, err := Parts(harness.Test{System: "fake", Nemesis: []string{"partition", "kill"},
		Options: map[string]string{"fake-fast": "true", "fake-wait": "2s"}}, RunOptions{})
	require.NoError(t, err)
	assert.Len(t, p.Nemeses, 2)
	assert.Equal(t, "fake", p.System.Name())
	for _, c := range p.Workload.Checkers() {
		assert.NotEqual(t, "convergence", c.Name(), "a system without digests is not judged on convergence")
	}

	p, err = Parts(harness.Test{System: "fakeexec:some/file.yaml"}, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, "fakeexec:some/file.yaml", p.System.Name())
}

func TestUnknownSystemSaysHowToRegister(t *testing.T) {
	_, err := System("toy", nil, nil)
	var u *UnknownSystemError
	require.ErrorAs(t, err, &u)
	assert.Contains(t, err.Error(), "registry.Register")
	assert.Contains(t, u.Known, "fake")
}

func TestRegisterRefusesTwiceAndKeepsTheError(t *testing.T) {
	def := SystemDef{Name: "twice", New: func(Config) (harness.System, error) { return fakeSystem{"twice"}, nil }}
	require.NoError(t, Register(def))
	err := Register(def)
	require.ErrorContains(t, err, "registered twice")
	// Every later resolution by name fails with it (exit 64), not only the
	// second Register's caller.
	_, err = Parts(harness.Test{System: "fake"}, RunOptions{})
	var ce *harness.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.ErrorContains(t, err, "registered twice")
	mu.Lock()
	regErrs = nil
	mu.Unlock()
	assert.Error(t, Register(SystemDef{Name: "a:b", New: def.New}))
	assert.Error(t, Register(SystemDef{Name: "nonew"}))
	assert.Error(t, Register(SystemDef{Name: "flagclash", New: def.New, Options: []Option{{Name: "seed"}}}))
	mu.Lock()
	regErrs = nil
	mu.Unlock()
}

func TestOptionsOnTheCommandLine(t *testing.T) {
	tst := harness.Test{System: "fake", Options: map[string]string{"fake-fast": "true", "fake-n": "5"}}.WithDefaults()
	assert.Contains(t, tst.CommandLine(), "--fake-fast=true --fake-n=5")
	assert.True(t, strings.HasPrefix(tst.CommandLineOf("toyctl"), "toyctl run --system fake"))
}

func TestRecheckKeepsTheRunnersFindings(t *testing.T) {
	dir := storedRun(t, false)
	var res harness.Results
	b, err := os.ReadFile(filepath.Join(dir, harness.ResultsFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &res))
	// Two leaders of one term are seen in node statuses, which the history
	// does not hold: checking it again must not lose them.
	res.Checkers = append(res.Checkers, harness.Result{Checker: harness.ElectionChecker, Validity: harness.Invalid,
		Anomalies: []harness.Anomaly{{Checker: harness.ElectionChecker, Time: 5, Explanation: "n1 and n2 each said they led term 3"}}})
	require.NoError(t, harness.WriteJSON(filepath.Join(dir, harness.ResultsFile), res))

	again, err := Recheck(context.Background(), dir, 0, false)
	require.NoError(t, err)
	assert.Equal(t, harness.Invalid, again.Verdict)
	require.NotNil(t, again.FirstAnomaly())
	assert.Equal(t, harness.ElectionChecker, again.FirstAnomaly().Checker)
}

// Resolve records every value a test leaves to a default, so config.json
// runs the same test after a default changes; a resolved test resolves to
// itself, and a stored test of an older version (options set only, no
// timescale) resolves like a new one.
func TestResolveRecordsEveryValue(t *testing.T) {
	old := harness.Test{System: "fake", Workload: "kv", NemesisInterval: harness.Duration(5 * time.Second),
		Options: map[string]string{"fake-fast": "true"}}
	tst, _, err := Resolve(old, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"fake-fast": "true", "fake-n": "3", "fake-wait": "0s"}, tst.Options)
	assert.Equal(t, harness.DefaultTimescale, tst.Timescale.D(), "fake declares no timescale")
	assert.Equal(t, 5*time.Second, tst.NemesisInterval.D())
	assert.Equal(t, 0.5, tst.ReadFraction)
	assert.Equal(t, harness.DefaultOpTimeout, tst.OpTimeout.D())
	again, _, err := Resolve(tst, RunOptions{})
	require.NoError(t, err)
	assert.Equal(t, tst, again)

	b, err := json.Marshal(tst)
	require.NoError(t, err)
	for _, field := range []string{`"timescale":"1s"`, `"read_fraction":0.5`, `"rate":0`, `"bug":""`, `"fake-n":"3"`} {
		assert.Contains(t, string(b), field)
	}
}
