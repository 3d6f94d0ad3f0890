package kvnodetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// kvnodeBin is the binary built by TestMain.
var kvnodeBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// KVNODE_BIN runs a prebuilt binary instead (e.g. one built with -race).
	if bin := os.Getenv("KVNODE_BIN"); bin != "" {
		kvnodeBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kvnodetest-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvnodetest: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	kvnodeBin = filepath.Join(dir, "kvnode")
	build := exec.Command("go", "build", "-o", kvnodeBin, "github.com/gauntlet-dev/gauntlet/cmd/kvnode")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "kvnodetest: go build cmd/kvnode: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// freePort asks the OS for a port. Another process could take it before
// kvnode binds it; on a test machine that is rare, and kvnode then fails
// loudly rather than silently.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// node is one kvnode process (restartable).
type node struct {
	id, addr, dir, logPath string
	args                   []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process exited
	err  error         // its exit error
}

type cluster struct {
	t     testing.TB
	nodes []*node
}

// startCluster starts n raft nodes with extra flags and waits for a leader.
func startCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t}
	base := t.TempDir()
	var peers []string
	for i := 1; i <= n; i++ {
		nd := &node{id: fmt.Sprintf("n%d", i), addr: freePort(t)}
		nd.dir = filepath.Join(base, nd.id)
		nd.logPath = filepath.Join(base, nd.id+".log")
		peers = append(peers, nd.id+"="+nd.addr)
		c.nodes = append(c.nodes, nd)
	}
	for _, nd := range c.nodes {
		nd.args = append([]string{"--mode", "raft", "--id", nd.id, "--listen", nd.addr,
			"--peers", strings.Join(peers, ","), "--data", nd.dir, "--log-format", "json"}, extra...)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.kill()
		}
		c.checkLogs()
		if t.Failed() {
			for _, nd := range c.nodes {
				data, _ := os.ReadFile(nd.logPath)
				t.Logf("=== log of %s (last 4 KiB)\n%s", nd.id, tail(data, 4096))
			}
		}
	})
	for _, nd := range c.nodes {
		c.start(nd)
	}
	c.waitLeader(15 * time.Second)
	return c
}

// checkLogs fails the test if a node's log shows a data race (when
// KVNODE_BIN was built with -race) or a panic.
func (c *cluster) checkLogs() {
	for _, nd := range c.nodes {
		data, err := os.ReadFile(nd.logPath)
		if err != nil {
			continue
		}
		for _, bad := range []string{"WARNING: DATA RACE", "panic: ", "fatal error: "} {
			if i := bytes.Index(data, []byte(bad)); i >= 0 {
				c.t.Errorf("%s's log shows %q:\n%s", nd.id, bad, tail(data[i:], 4096))
			}
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (c *cluster) start(nd *node) {
	c.t.Helper()
	logf, err := os.OpenFile(nd.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(c.t, err)
	cmd := exec.Command(kvnodeBin, nd.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(c.t, cmd.Start(), "start %s", nd.id)
	done := make(chan struct{})
	nd.mu.Lock()
	nd.cmd, nd.done, nd.err = cmd, done, nil
	nd.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		nd.mu.Lock()
		nd.err = err
		nd.mu.Unlock()
		close(done)
	}()
	c.waitServing(nd, 10*time.Second)
}

// waitServing waits until nd answers /debug/status.
func (c *cluster) waitServing(nd *node, timeout time.Duration) {
	c.t.Helper()
	cl := client.New(nd.addr, 200*time.Millisecond)
	defer cl.Close()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := cl.Status(context.Background()); err == nil {
			return
		}
		nd.mu.Lock()
		done := nd.done
		nd.mu.Unlock()
		select {
		case <-done:
			c.t.Fatalf("%s exited while starting: %v", nd.id, nd.exitErr())
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s does not serve after %v", nd.id, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (nd *node) exitErr() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.err
}

// signal sends sig and waits up to timeout for the exit; false if it did not exit.
func (nd *node) signal(sig syscall.Signal, timeout time.Duration) bool {
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (nd *node) kill() { nd.signal(syscall.SIGKILL, 10*time.Second) }

// status asks every node; unreachable nodes are skipped.
func (c *cluster) statuses() map[string]api.Status {
	out := map[string]api.Status{}
	for _, nd := range c.nodes {
		cl := client.New(nd.addr, 300*time.Millisecond)
		if s, err := cl.Status(context.Background()); err == nil {
			out[nd.id] = s
		}
		cl.Close()
	}
	return out
}

// waitLeader waits until a node is leader and every reachable node agrees.
func (c *cluster) waitLeader(timeout time.Duration) *node {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]api.Status
	for time.Now().Before(deadline) {
		last = c.statuses()
		leader := ""
		agree := len(last) > 0
		for _, s := range last {
			if s.Role == "leader" {
				leader = s.ID
			}
		}
		for _, s := range last {
			agree = agree && s.Leader == leader
		}
		if leader != "" && agree {
			return c.node(leader)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no agreed leader after %v: %+v", timeout, last)
	return nil
}

func (c *cluster) node(id string) *node {
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

// follower returns a node that is not leader.
func (c *cluster) follower(leader *node) *node {
	for _, nd := range c.nodes {
		if nd != leader {
			return nd
		}
	}
	return nil
}

// waitConverged waits until every node reports the same digest.
func (c *cluster) waitConverged(timeout time.Duration) api.Digest {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var ds []api.Digest
	for time.Now().Before(deadline) {
		ds = ds[:0]
		for _, nd := range c.nodes {
			cl := client.New(nd.addr, time.Second)
			d, err := cl.Digest(context.Background())
			cl.Close()
			if err == nil {
				d.Values = nil
				ds = append(ds, d)
			}
		}
		same := len(ds) == len(c.nodes)
		for _, d := range ds {
			same = same && d.Digest == ds[0].Digest
		}
		if same {
			return ds[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("replicas did not converge within %v: %+v", timeout, ds)
	return api.Digest{}
}

// runKvnode runs kvnode to completion (for bad input) and returns its exit
// code and output.
func runKvnode(t testing.TB, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, kvnodeBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		require.NoError(t, ctx.Err(), "kvnode %v did not exit: %s", args, out.String())
		return ee.ExitCode(), out.String()
	default:
		t.Fatalf("run kvnode: %v", err)
		return -1, ""
	}
}
