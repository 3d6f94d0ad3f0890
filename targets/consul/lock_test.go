package consul

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/guard"
)

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// realAgent builds Consul (cached after the first time; 4 to 8 minutes
// cold) and runs one server agent until the test ends; it returns the
// agent's HTTP address.
func realAgent(t *testing.T, ctx context.Context) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds Consul: skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain to build Consul with")
	}
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	s := New(Options{Logf: t.Logf})
	// Where `gauntlet run` and the e2e tests keep their builds: a fresh
	// machine builds Consul once for all of them.
	bin, err := s.Build(ctx, filepath.Join(cache, "gauntlet", "local"))
	require.NoError(t, err)
	httpPort, serf, server := freePort(t), freePort(t), freePort(t)
	l, err := s.Launch(ctx, harness.NodeSpec{ID: "n1", Binary: bin, Listen: "127.0.0.1:" + httpPort, DataDir: t.TempDir(),
		Ports: map[string]string{harness.PortPeer: "127.0.0.1:" + serf, portServer: "127.0.0.1:" + server},
		Peers: map[string]string{"n1": "127.0.0.1:" + serf}})
	require.NoError(t, err)
	cmd := exec.Command(l.Binary, l.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(t.TempDir(), "consul.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	addr := "127.0.0.1:" + httpPort
	require.Eventually(t, func() bool {
		st, err := s.Status(ctx, harness.NodeAt("n1", addr))
		return err == nil && st.Role == "leader"
	}, time.Minute, 200*time.Millisecond)
	// A leader can answer before the agent has registered its own node in
	// the catalog, and until then a session cannot be made ("Missing node
	// registration"): wait for the registration, as a client would.
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/v1/catalog/nodes")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"Node"`)
	}, time.Minute, 200*time.Millisecond)
	return addr
}

func lockOp(f, key string, v *string) harness.Op {
	return harness.Op{Type: harness.Invoke, F: f, Key: key, Value: v}
}

// TestRealLock: sessions and acquire/release on a real agent: one holder
// at a time, a waiter gives up at its deadline, LockIndex grows with
// grants, guarded work past the session's TTL is refused, and a destroyed
// session's lock is free again only after the lock-delay.
func TestRealLock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	addr := realAgent(t, ctx)
	assert.Contains(t, New(Options{}).Features(), harness.FeatureLock)
	a, b := newClient("n1", addr, 0, ReadConsistent), newClient("n1", addr, 0, ReadConsistent)
	a.lockDelay, b.lockDelay = 2*time.Second, 2*time.Second
	defer a.Close()
	defer b.Close()

	got := a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	tokA, err := strconv.ParseUint(*got.Value, 10, 64)
	require.NoError(t, err)

	wctx, wcancel := context.WithTimeout(ctx, 700*time.Millisecond)
	w := b.Invoke(wctx, lockOp(harness.FAcquire, "L", nil))
	wcancel()
	assert.Equal(t, harness.Fail, w.Type, w.Error)

	assert.Equal(t, harness.OK, a.Invoke(ctx, lockOp(guard.FHold, "L", harness.Str("30"))).Type)
	h := a.Invoke(ctx, lockOp(guard.FHold, "L", harness.Str("20000")))
	assert.Equal(t, harness.Fail, h.Type, "work longer than the session's TTL is refused")

	bdone := make(chan harness.Op, 1)
	go func() { bdone <- b.Invoke(ctx, lockOp(harness.FAcquire, "L", nil)) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case op := <-bdone:
		t.Fatalf("b acquired while a held the lock: %v", op)
	default:
	}
	r := a.Invoke(ctx, lockOp(harness.FRelease, "L", nil))
	require.Equal(t, harness.OK, r.Type, r.Error)
	got = <-bdone
	require.Equal(t, harness.OK, got.Type, got.Error)
	tokB, _ := strconv.ParseUint(*got.Value, 10, 64)
	assert.Greater(t, tokB, tokA)

	// b's session destroyed behind its back: a waits out the lock-delay.
	b.lockMu.Lock()
	_, _, err = b.a.do(ctx, "PUT", "/v1/session/destroy/"+b.locks.sess.id, "")
	b.lockMu.Unlock()
	require.NoError(t, err)
	start := time.Now()
	got = a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "the lock-delay held the lock back")
	r = b.Invoke(ctx, lockOp(harness.FRelease, "L", nil))
	assert.Equal(t, harness.Fail, r.Type, "b's session no longer holds it")
}

// TestRealLockAbandonedGrant: a worker that gave up releasing acquires
// again: the client destroys the old session and takes the lock with a
// fresh one once the old session's lock-delay has run.
func TestRealLockAbandonedGrant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	addr := realAgent(t, ctx)
	a := newClient("n1", addr, 0, ReadConsistent)
	a.lockDelay = time.Second
	defer a.Close()
	got := a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	first, _ := strconv.ParseUint(*got.Value, 10, 64)
	got = a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	second, _ := strconv.ParseUint(*got.Value, 10, 64)
	assert.Greater(t, second, first, "a new grant, a larger LockIndex")
}
