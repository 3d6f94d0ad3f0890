package kvnode

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/internal/source"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// fakeStore answers from a map, or with err when set.
type fakeStore struct {
	kv    map[string]string
	err   error
	delay time.Duration
}

func (f *fakeStore) wait(ctx context.Context) error {
	if f.delay == 0 {
		return nil
	}
	select {
	case <-time.After(f.delay):
		return nil
	case <-ctx.Done():
		return api.Unknown("timed out")
	}
}

func (f *fakeStore) Get(ctx context.Context, key string, stale bool) (string, bool, error) {
	if err := f.wait(ctx); err != nil {
		return "", false, err
	}
	if f.err != nil {
		return "", false, f.err
	}
	v, ok := f.kv[key]
	return v, ok, nil
}
func (f *fakeStore) Put(ctx context.Context, key, value string) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	if f.err != nil {
		return f.err
	}
	f.kv[key] = value
	return nil
}
func (f *fakeStore) CAS(ctx context.Context, key, from, to string) (api.CASResult, error) {
	if f.err != nil {
		return api.CASResult{}, f.err
	}
	v, ok := f.kv[key]
	if !ok || v != from {
		return api.CASResult{Current: v, Found: ok}, nil
	}
	f.kv[key] = to
	return api.CASResult{OK: true}, nil
}
func (f *fakeStore) Status() api.Status {
	return api.Status{ID: "n1", Mode: "raft", Role: "leader", Term: 3, Leader: "n1", Commit: 7, Applied: 6}
}
func (f *fakeStore) Digest(bool) api.Digest {
	return api.Digest{ID: "n1", Digest: "abc", Applied: 6, Keys: 1, Values: map[string]string{"k": "h"}}
}
func (f *fakeStore) Close() error { return nil }

func serve(t *testing.T, st *fakeStore) (string, *clock.Skewable) {
	clk := clock.NewReal()
	srv := httptest.NewServer(api.NewServer(st, api.ServerOptions{Clock: clk}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), clk
}

func inv(f, key string, from, value *string) harness.Op {
	return harness.Op{Process: 1, Type: harness.Invoke, F: f, Key: key, From: from, Value: value}
}

func TestInvoke(t *testing.T) {
	st := &fakeStore{kv: map[string]string{"k": "1"}}
	addr, _ := serve(t, st)
	sys := New("raft")
	hc, err := sys.NewClient(harness.NodeAt("n1", addr))
	require.NoError(t, err)
	defer hc.Close()
	ctx := context.Background()

	r := hc.Invoke(ctx, inv(harness.FRead, "k", nil, nil))
	assert.Equal(t, harness.OK, r.Type)
	require.NotNil(t, r.Value)
	assert.Equal(t, "1", *r.Value)
	assert.Equal(t, "n1", r.Node)

	r = hc.Invoke(ctx, inv(harness.FRead, "absent", nil, nil))
	assert.Equal(t, harness.OK, r.Type)
	assert.Nil(t, r.Value, "absent key reads nil")

	r = hc.Invoke(ctx, inv(harness.FWrite, "k", nil, harness.Str("2")))
	assert.Equal(t, harness.OK, r.Type)
	assert.Equal(t, "2", st.kv["k"])

	r = hc.Invoke(ctx, inv(harness.FCAS, "k", harness.Str("2"), harness.Str("3")))
	assert.Equal(t, harness.OK, r.Type)
	r = hc.Invoke(ctx, inv(harness.FCAS, "k", harness.Str("2"), harness.Str("4")))
	assert.Equal(t, harness.Fail, r.Type)
	assert.Equal(t, "mismatch: found 3", r.Error)
	r = hc.Invoke(ctx, inv(harness.FCAS, "nokey", harness.Str("2"), harness.Str("4")))
	assert.Equal(t, harness.Fail, r.Type)
	assert.Equal(t, "mismatch: key absent", r.Error)

	// Certainly not applied: fail for every op.
	st.err = api.NotApplied("no leader")
	for _, op := range []harness.Op{inv(harness.FRead, "k", nil, nil), inv(harness.FWrite, "k", nil, harness.Str("5")),
		inv(harness.FCAS, "k", harness.Str("3"), harness.Str("5"))} {
		r = hc.Invoke(ctx, op)
		assert.Equal(t, harness.Fail, r.Type, op.F)
		assert.Contains(t, r.Error, "no leader")
	}
	// Unknown: a read still fails (it changed nothing); write and cas are info.
	st.err = api.Unknown("lost leadership")
	assert.Equal(t, harness.Fail, hc.Invoke(ctx, inv(harness.FRead, "k", nil, nil)).Type)
	r = hc.Invoke(ctx, inv(harness.FWrite, "k", nil, harness.Str("5")))
	assert.Equal(t, harness.Info, r.Type)
	assert.Contains(t, r.Error, "lost leadership")
	assert.Equal(t, harness.Info, hc.Invoke(ctx, inv(harness.FCAS, "k", harness.Str("3"), harness.Str("5"))).Type)

	// A write whose context ends while the server works is info.
	st.err, st.delay = nil, time.Second
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	r = hc.Invoke(cctx, inv(harness.FWrite, "k", nil, harness.Str("6")))
	cancel()
	assert.Equal(t, harness.Info, r.Type)

	// Malformed ops are refused without a request.
	assert.Equal(t, harness.Fail, hc.Invoke(ctx, inv(harness.FCAS, "k", nil, harness.Str("1"))).Type)
	assert.Equal(t, harness.Fail, hc.Invoke(ctx, inv("transfer", "k", nil, nil)).Type)
}

func TestInvokeNodeDown(t *testing.T) {
	hc, err := New("raft").NewClient(harness.NodeAt("n2", "127.0.0.1:1"))
	require.NoError(t, err)
	r := hc.Invoke(context.Background(), inv(harness.FWrite, "k", nil, harness.Str("1")))
	assert.Equal(t, harness.Fail, r.Type, "a refused connection never sent the write")
	assert.Equal(t, "n2", r.Node)
}

func TestStatusDigestClock(t *testing.T) {
	st := &fakeStore{kv: map[string]string{}}
	addr, clk := serve(t, st)
	n := harness.NodeAt("n1", addr)
	sys := New("raft")
	ctx := context.Background()
	s, err := harness.StatusOf(ctx, sys, n)
	require.NoError(t, err)
	assert.Equal(t, harness.NodeStatus{ID: "n1", Role: "leader", Term: 3, Leader: "n1", Commit: 7, Applied: 6}, s)
	d, err := harness.DigestOf(ctx, sys, n)
	require.NoError(t, err)
	assert.Equal(t, harness.Digest{Node: "n1", Digest: "abc", Applied: 6, Keys: 1, Values: map[string]string{"k": "h"}}, d)
	require.NoError(t, harness.SetClockOf(ctx, sys, n, -1500*time.Millisecond))
	assert.Equal(t, -1500*time.Millisecond, clk.Offset())
}

func TestLaunchAndCatalog(t *testing.T) {
	sys := New("quorum")
	assert.Equal(t, "quorum", sys.Name())
	_, ok := sys.(harness.Converger)
	assert.True(t, ok, "quorum mode converges")
	_, ok = New("raft").(harness.Converger)
	assert.False(t, ok)

	l, err := sys.Launch(context.Background(), harness.NodeSpec{ID: "n2", Binary: "/bin/kvnode", Listen: "127.0.0.1:2",
		Peers: map[string]string{"n2": "127.0.0.1:2", "n1": "127.0.0.1:9", "n3": "127.0.0.1:8"}, DataDir: "/d", Bug: "r1w1"})
	assert.Equal(t, "/bin/kvnode", l.Binary)
	assert.Equal(t, []string{"--mode", "quorum", "--id", "n2", "--listen", "127.0.0.1:2",
		"--peers", "n1=127.0.0.1:9,n2=127.0.0.1:2,n3=127.0.0.1:8", "--data", "/d", "--bug", "r1w1"}, l.Args)
	require.NoError(t, err)

	for _, mode := range []string{"raft", "quorum"} {
		bugs := harness.BugsOf(New(mode))
		require.NotEmpty(t, bugs, mode)
		for _, b := range bugs {
			assert.NotEmpty(t, b.Name)
			assert.NotEmpty(t, b.Description)
		}
	}
	_, err = New("paxos").(harness.Builder).Build(context.Background(), t.TempDir())
	assert.ErrorContains(t, err, "unknown mode")
}

func TestBuildFindsModule(t *testing.T) {
	t.Setenv(BinaryEnv, "")
	root, err := moduleRoot()
	require.NoError(t, err)
	assert.FileExists(t, root+"/go.mod")

	t.Setenv(BinaryEnv, "/nonexistent/kvnode")
	_, err = New("raft").(harness.Builder).Build(context.Background(), t.TempDir())
	assert.ErrorContains(t, err, BinaryEnv)

	// Outside a checkout it builds from the one this test binary came from
	// (internal/source); a wrong GAUNTLET_SOURCE is an error naming both ways out.
	t.Chdir(t.TempDir())
	t.Setenv(BinaryEnv, "")
	t.Setenv(source.Env, t.TempDir())
	_, err = New("raft").(harness.Builder).Build(context.Background(), t.TempDir())
	assert.ErrorContains(t, err, source.Env)
	assert.ErrorContains(t, err, BinaryEnv)
}
