package etcd

import (
	"context"
	"net"
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
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// cacheDir is where `gauntlet run` and the e2e tests keep their builds,
// so that a fresh machine builds etcd once for all of them.
func cacheDir(t *testing.T) string {
	d, err := os.UserCacheDir()
	require.NoError(t, err)
	return filepath.Join(d, "gauntlet", "local")
}

func TestLaunchArgs(t *testing.T) {
	s := New(Options{ElectionMS: 500})
	l, err := s.Launch(context.Background(), harness.NodeSpec{ID: "n2", Binary: "/bin/etcd", Listen: "127.0.0.1:1", PeerListen: "127.0.0.1:2",
		Peers: map[string]string{"n1": "127.0.0.1:11", "n2": "127.0.0.1:12"}, DataDir: "/d"})
	require.NoError(t, err)
	args := strings.Join(l.Args, " ")
	assert.Contains(t, args, "--initial-cluster n1=http://127.0.0.1:11,n2=http://127.0.0.1:12")
	assert.Contains(t, args, "--listen-peer-urls http://127.0.0.1:2")
	assert.Contains(t, args, "--initial-advertise-peer-urls http://127.0.0.1:12")
	assert.Contains(t, args, "--election-timeout 500")
	require.ErrorIs(t, harness.SetClockOf(context.Background(), s, harness.NodeAt("n1", "x"), time.Second), harness.ErrUnsupported)
}

func TestBadVersion(t *testing.T) {
	_, err := Build(context.Background(), "3.6", t.TempDir(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not of the form v3.X.Y")
}

// realMember builds etcd (cached after the first time, ~1 min) and runs one
// member until the test ends: the system, the member's client address and
// its process.
func realMember(t *testing.T, ctx context.Context) (*System, string, *exec.Cmd) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds etcd: skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain to build etcd with")
	}
	s := New(Options{Version: "v3.6.10", Logf: t.Logf})
	bin, err := s.Build(ctx, cacheDir(t))
	require.NoError(t, err)

	client, peer := freeAddr(t), freeAddr(t)
	l, err := s.Launch(ctx, harness.NodeSpec{ID: "n1", Binary: bin, Listen: client, Peers: map[string]string{"n1": peer}, DataDir: t.TempDir()})
	require.NoError(t, err)
	cmd := exec.Command(l.Binary, l.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(t.TempDir(), "etcd.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })

	require.Eventually(t, func() bool {
		st, err := s.Status(ctx, harness.NodeAt("n1", client))
		return err == nil && st.Role == "leader"
	}, 30*time.Second, 100*time.Millisecond)
	return s, client, cmd
}

// TestRealMember runs one member: the client's ops, cas mismatch, status
// and digest.
func TestRealMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, client, cmd := realMember(t, ctx)

	c, err := s.NewClient(harness.NodeAt("n1", client))
	require.NoError(t, err)
	defer c.Close()
	r := c.Invoke(ctx, harness.Op{Type: harness.Invoke, F: "read", Key: "k"})
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.Nil(t, r.Value)
	w := c.Invoke(ctx, harness.Op{Type: harness.Invoke, F: "write", Key: "k", Value: harness.Str("1")})
	require.Equal(t, harness.OK, w.Type, w.Error)
	cas := c.Invoke(ctx, harness.Op{Type: harness.Invoke, F: "cas", Key: "k", From: harness.Str("2"), Value: harness.Str("3")})
	assert.Equal(t, harness.Fail, cas.Type)
	assert.Contains(t, cas.Error, `mismatch: found "1"`)
	cas = c.Invoke(ctx, harness.Op{Type: harness.Invoke, F: "cas", Key: "k", From: harness.Str("1"), Value: harness.Str("3")})
	assert.Equal(t, harness.OK, cas.Type, cas.Error)
	r = c.Invoke(ctx, harness.Op{Type: harness.Invoke, F: "read", Key: "k"})
	require.Equal(t, harness.OK, r.Type)
	assert.Equal(t, "3", *r.Value)

	d, err := s.Digest(ctx, harness.NodeAt("n1", client))
	require.NoError(t, err)
	assert.Equal(t, 1, d.Keys)
	assert.NotEmpty(t, d.Digest)
	rev := d.Values[KeyRevision]
	assert.Equal(t, strconv.FormatUint(d.Applied, 10), rev)
	assert.Regexp(t, "^r"+rev+"/[0-9a-f]{8}$", d.Values[KeyState], "HashKV at the only member's revision")

	// A member that is gone: writes are certainly not applied (never sent).
	// A new client: on the old one's kept-alive connection a write may
	// have been sent before the kill reset it, and info is then the honest
	// answer (seen at load 19).
	_ = cmd.Process.Kill()
	_, _ = cmd.Process.Wait()
	c2, err := s.NewClient(harness.NodeAt("n1", client))
	require.NoError(t, err)
	defer c2.Close()
	w = c2.Invoke(ctx, harness.Op{Type: harness.Invoke, F: "write", Key: "k", Value: harness.Str("4")})
	assert.Equal(t, harness.Fail, w.Type, w.Error)
}
