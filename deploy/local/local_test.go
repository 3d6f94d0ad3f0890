package local

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// testSystem runs internal/testnode.
type testSystem struct {
	bin   string
	crash bool
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// testnodeBinary builds internal/testnode once per test binary.
func testnodeBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gauntlet-testnode-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "testnode")
		out, err := exec.Command("go", "build", "-o", buildBin, "./internal/testnode").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build testnode: %v: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return buildBin
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("GAUNTLET_LOCAL_HELPER"); dir != "" {
		helper(dir)
		return
	}
	code := m.Run()
	if buildBin != "" {
		os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

func (s testSystem) Name() string { return "testnode" }
func (s testSystem) Build(context.Context, string) (string, error) {
	return s.bin, nil
}
func (s testSystem) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	var peers []string
	for id, a := range n.Peers {
		peers = append(peers, id+"="+a)
	}
	sort.Strings(peers)
	args := []string{"--id", n.ID, "--listen", n.Listen, "--peers", strings.Join(peers, ","), "--data", n.DataDir}
	if n.PeerListen != "" {
		args = append(args, "--peer-listen", n.PeerListen)
	}
	if s.crash && n.ID == "n2" {
		args = append(args, "--crash")
	}
	return harness.Launch{Binary: n.Binary, Args: args}, nil
}
func (s testSystem) NewClient(harness.Node) (harness.Client, error) {
	return nil, harness.ErrUnsupported
}
func (s testSystem) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	var st harness.NodeStatus
	_, err := get(ctx, n.Addr(), "/debug/status", &st)
	return st, err
}

// get fetches path from addr; a non-nil out decodes JSON.
func get(ctx context.Context, addr, path string, out any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return "", json.Unmarshal(b, out)
	}
	return string(b), nil
}

func deployTest(t *testing.T, sys harness.System, nodes int) (*Cluster, string) {
	dir := t.TempDir()
	d := New(Options{BaseDir: filepath.Join(dir, "cache")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc, err := d.Deploy(ctx, harness.ClusterSpec{Nodes: nodes, System: sys, Dir: dir, RunID: t.Name()})
	if hc != nil {
		t.Cleanup(func() { hc.Close(context.Background()) })
	}
	require.NoError(t, err)
	return hc.(*Cluster), dir
}

// call asks from to call peer through the mesh.
func call(c *Cluster, from, peer string) (string, error) {
	return get(context.Background(), c.ClientAddr(from), "/call?peer="+peer, nil)
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	// A reaped process is gone from /proc; a zombie would still be there.
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func TestClusterNetworkFaults(t *testing.T) {
	c, _ := deployTest(t, testSystem{bin: testnodeBinary(t)}, 3)
	ctx := context.Background()
	require.NoError(t, c.WaitHealthy(ctx))
	assert.Equal(t, []string{"n1", "n2", "n3"}, c.Nodes())

	got, err := call(c, "n1", "n2")
	require.NoError(t, err)
	assert.Equal(t, "n2", got)

	// Isolate n1: it reaches nobody, and nobody reaches it; n2<->n3 fine.
	require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n1"}, []string{"n2", "n3"})))
	_, err = call(c, "n1", "n2")
	assert.Error(t, err)
	_, err = call(c, "n3", "n1")
	assert.Error(t, err)
	got, err = call(c, "n2", "n3")
	require.NoError(t, err)
	assert.Equal(t, "n3", got)

	// Both directions delayed: a call takes at least 2·lat, and an unfaulted
	// one is told from it by that, not by a budget a loaded machine may
	// miss. (lat is bounded by testnode's 500 ms peer timeout.)
	const lat = 150 * time.Millisecond
	require.NoError(t, c.Netem(ctx, harness.LinkFault{Latency: lat}))
	t0 := time.Now()
	_, err = call(c, "n2", "n3")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(t0), 2*lat, "latency on both directions of a link")

	require.NoError(t, c.Heal(ctx))
	t0 = time.Now()
	got, err = call(c, "n1", "n2")
	require.NoError(t, err)
	assert.Equal(t, "n2", got)
	assert.Less(t, time.Since(t0), 2*lat, "no latency after the heal")

	assert.True(t, c.Supports(harness.FaultPartition))
	assert.False(t, c.Supports(harness.FaultClock), "testnode cannot skew its clock")
	assert.ErrorIs(t, c.SetClock(ctx, "n1", time.Second), harness.ErrUnsupported)
	assert.Error(t, c.Partition(ctx, harness.Grudge{"n9": {"n1"}}))
}

func TestKillRestartKeepsData(t *testing.T) {
	c, dir := deployTest(t, testSystem{bin: testnodeBinary(t)}, 2)
	ctx := context.Background()
	require.NoError(t, c.WaitHealthy(ctx))
	pid := c.PID("n2")
	require.True(t, alive(pid))

	require.NoError(t, c.Kill(ctx, "n2"))
	assert.False(t, alive(pid), "killed and reaped")
	assert.Zero(t, c.PID("n2"))
	_, err := harness.StatusOf(ctx, c.spec.System, c.Node("n2"))
	assert.Error(t, err)
	require.NoError(t, c.Kill(ctx, "n2"), "killing a dead node is fine")

	require.NoError(t, c.Start(ctx, "n2"))
	require.NoError(t, c.WaitHealthy(ctx))
	var st struct{ Boots int }
	_, err = get(ctx, c.ClientAddr("n2"), "/debug/status", &st)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Boots, "the restarted node found its data directory")
	assert.NotEqual(t, pid, c.PID("n2"))
	pid2 := c.PID("n2")
	require.NoError(t, c.Start(ctx, "n2"), "starting a running node is a no-op")
	assert.Equal(t, pid2, c.PID("n2"))

	log, err := os.ReadFile(filepath.Join(dir, "nodes", "n2", "node.log"))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(log), "=== gauntlet: start #"), string(log))
	assert.Contains(t, string(log), "boot 1")
	assert.Contains(t, string(log), "boot 2")
	b, err := os.ReadFile(filepath.Join(dir, "data", "n2", "boots"))
	require.NoError(t, err)
	assert.Equal(t, "2", string(b))

	// Stop is graceful: the node logs its SIGTERM.
	require.NoError(t, c.Stop(ctx, "n2"))
	log, _ = os.ReadFile(filepath.Join(dir, "nodes", "n2", "node.log"))
	assert.Contains(t, string(log), "terminated")

	// CollectLogs elsewhere copies; into the run's own nodes dir it is a no-op.
	out := t.TempDir()
	require.NoError(t, c.CollectLogs(ctx, out))
	copied, err := os.ReadFile(filepath.Join(out, "n2", "node.log"))
	require.NoError(t, err)
	assert.Equal(t, string(log), string(copied))
	require.NoError(t, c.CollectLogs(ctx, filepath.Join(dir, "nodes")))
}

func TestPauseResume(t *testing.T) {
	c, _ := deployTest(t, testSystem{bin: testnodeBinary(t)}, 2)
	ctx := context.Background()
	require.NoError(t, c.WaitHealthy(ctx))
	pid := c.PID("n1")
	require.NoError(t, c.Pause(ctx, "n1"))
	assert.Equal(t, "T", procState(pid))
	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := harness.StatusOf(sctx, c.spec.System, c.Node("n1"))
	cancel()
	assert.Error(t, err, "a paused node does not answer")
	require.NoError(t, c.Resume(ctx, "n1"))
	assert.NotEqual(t, "T", procState(pid))
	_, err = harness.StatusOf(ctx, c.spec.System, c.Node("n1"))
	assert.NoError(t, err)
}

func TestCloseLeavesNoProcess(t *testing.T) {
	c, _ := deployTest(t, testSystem{bin: testnodeBinary(t)}, 3)
	ctx := context.Background()
	require.NoError(t, c.WaitHealthy(ctx))
	var pids []int
	for _, n := range c.Nodes() {
		pids = append(pids, c.PID(n))
	}
	require.NoError(t, c.Pause(ctx, "n2"))
	require.NoError(t, c.Kill(ctx, "n3"))
	t0 := time.Now()
	require.NoError(t, c.Close(ctx))
	// No grace (closeGrace): a paused node must not hold Close. A loose
	// bound, since one that did would hold it for good.
	assert.Less(t, time.Since(t0), 30*time.Second, "Close does not wait for the paused node")
	for _, pid := range pids {
		assert.False(t, alive(pid), "pid %d", pid)
	}
	require.NoError(t, c.Close(ctx), "Close is idempotent")
	assert.Error(t, c.Start(ctx, "n3"), "no restarts after Close")
}

func TestWaitHealthyReportsExit(t *testing.T) {
	c, _ := deployTest(t, testSystem{bin: testnodeBinary(t), crash: true}, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.WaitHealthy(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "crashing on purpose")
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "an exited node is reported at once")
}

func TestParallelClusters(t *testing.T) {
	bin := testnodeBinary(t)
	a, _ := deployTest(t, testSystem{bin: bin}, 2)
	b, _ := deployTest(t, testSystem{bin: bin}, 2)
	ctx := context.Background()
	require.NoError(t, a.WaitHealthy(ctx))
	require.NoError(t, b.WaitHealthy(ctx))
	assert.NotEqual(t, a.ClientAddr("n1"), b.ClientAddr("n1"))
	require.NoError(t, a.Partition(ctx, harness.Symmetric([]string{"n1"}, []string{"n2"})))
	_, err := call(a, "n1", "n2")
	assert.Error(t, err)
	got, err := call(b, "n1", "n2")
	require.NoError(t, err, "a fault in one cluster leaves the other alone")
	assert.Equal(t, "n2", got)
}

// helper deploys a cluster, prints its pids and waits to be SIGKILLed.
func helper(dir string) {
	d := New(Options{BaseDir: filepath.Join(dir, "cache")})
	hc, err := d.Deploy(context.Background(), harness.ClusterSpec{Nodes: 3,
		System: testSystem{bin: os.Getenv("GAUNTLET_TESTNODE")}, Dir: dir, RunID: "helper"})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c := hc.(*Cluster)
	if err := c.WaitHealthy(context.Background()); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for _, n := range c.Nodes() {
		fmt.Println("pid", c.PID(n))
	}
	fmt.Println("ready")
	time.Sleep(time.Minute)
}

func TestKilledHarnessLeavesNoNode(t *testing.T) {
	bin := testnodeBinary(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GAUNTLET_LOCAL_HELPER="+t.TempDir(), "GAUNTLET_TESTNODE="+bin)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pid "); ok {
			n, err := strconv.Atoi(p)
			require.NoError(t, err)
			pids = append(pids, n)
		}
		if line == "ready" {
			break
		}
		require.False(t, strings.HasPrefix(line, "error"), line)
	}
	require.Len(t, pids, 3)
	for _, p := range pids {
		require.True(t, alive(p))
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		// The nodes are children of the dead harness: init reaps them.
		for alive(p) && procState(p) != "Z" && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		assert.True(t, !alive(p) || procState(p) == "Z", "node pid %d outlived its harness", p)
		if alive(p) && procState(p) != "Z" {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

// sharedSystem is a testnode whose members share one peer map.
type sharedSystem struct{ testSystem }

func (sharedSystem) SharedPeers() bool { return true }
func (sharedSystem) Ports() []string   { return []string{harness.PortPeer} }

func TestSharedPeers(t *testing.T) {
	sys := sharedSystem{testSystem{bin: testnodeBinary(t)}}
	d := New(Options{})
	assert.False(t, d.Supports(sys, harness.FaultPartition))
	assert.False(t, d.Supports(sys, harness.FaultLoss))
	assert.True(t, d.Supports(sys, harness.FaultKill))
	c, dir := deployTest(t, sys, 3)
	ctx := context.Background()
	require.NoError(t, c.WaitHealthy(ctx))
	got, err := call(c, "n1", "n3")
	require.NoError(t, err)
	assert.Equal(t, "n3", got)
	assert.ErrorIs(t, c.Partition(ctx, harness.Grudge{"n1": {"n2"}}), harness.ErrUnsupported)
	assert.ErrorIs(t, c.Netem(ctx, harness.LinkFault{Loss: 0.1, Links: map[string][]string{"n1": {"n2"}}}), harness.ErrUnsupported)

	// Every link at once is made at the members' proxies: a forwarded call
	// crosses one of them.
	require.NoError(t, c.Netem(ctx, harness.LinkFault{Latency: 150 * time.Millisecond}))
	t0 := time.Now()
	got, err = call(c, "n1", "n3")
	require.NoError(t, err)
	assert.Equal(t, "n3", got)
	assert.GreaterOrEqual(t, time.Since(t0), 150*time.Millisecond, "the peer link is slowed")
	require.NoError(t, c.Heal(ctx))

	// Every member got the same map, each entry in front of a peer listener.
	var maps []string
	for _, n := range c.Nodes() {
		log, err := os.ReadFile(filepath.Join(dir, "nodes", n, "node.log"))
		require.NoError(t, err)
		_, rest, _ := strings.Cut(string(log), "--peers ")
		peers, _, _ := strings.Cut(rest, " ")
		maps = append(maps, peers)
		assert.Contains(t, string(log), "--peer-listen")
	}
	assert.Equal(t, maps[0], maps[1])
	assert.Equal(t, maps[0], maps[2])
	assert.NotContains(t, maps[0], c.ClientAddr("n1"), "peers reach members through their entrance")
}

func TestReservePortOutsideEphemeralRange(t *testing.T) {
	lo, hi := ephemeralRange()
	seen := map[string]bool{}
	for range 20 {
		ln, err := reservePort()
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		_, p, _ := strings.Cut(ln.Addr().String(), "127.0.0.1:")
		port, err := strconv.Atoi(p)
		require.NoError(t, err)
		assert.False(t, port >= lo && port <= hi, "port %d is in the ephemeral range %d-%d", port, lo, hi)
		assert.False(t, seen[p], "a held port is not handed out twice")
		seen[p] = true
	}
}

// peerPortSystem talks to peers on a port of its own and writes a config
// file, as real products do; partitions stay per link.
type peerPortSystem struct{ testSystem }

func (peerPortSystem) Ports() []string { return []string{harness.PortPeer, "metrics"} }
func (s peerPortSystem) Launch(ctx context.Context, n harness.NodeSpec) (harness.Launch, error) {
	l, err := s.testSystem.Launch(ctx, n)
	l.Files = map[string][]byte{"conf/node.conf": []byte(n.ID + " " + n.Ports["metrics"])}
	return l, err
}

func TestPeerPortKeepsLinksApart(t *testing.T) {
	sys := peerPortSystem{testSystem{bin: testnodeBinary(t)}}
	assert.True(t, New(Options{}).Supports(sys, harness.FaultPartition))
	c, dir := deployTest(t, sys, 3)
	ctx := context.Background()
	require.NoError(t, c.WaitHealthy(ctx))
	b, err := os.ReadFile(filepath.Join(dir, "data", "n2", "conf", "node.conf"))
	require.NoError(t, err)
	assert.Regexp(t, `^n2 127\.0\.0\.1:\d+$`, string(b))
	n2 := c.Node("n2")
	assert.Equal(t, "n2 "+n2.Ports["metrics"], string(b), "per-node calls get the ports the node was launched with")
	assert.Equal(t, c.ClientAddr("n2"), n2.Addr())
	assert.Len(t, n2.Ports, 3, "client, peer and metrics")
	got, err := call(c, "n1", "n2")
	require.NoError(t, err)
	assert.Equal(t, "n2", got)
	require.NoError(t, c.Partition(ctx, harness.Grudge{"n1": {"n2"}, "n2": {"n1"}}))
	_, err = call(c, "n1", "n2")
	assert.Error(t, err, "n1-n2 is cut")
	got, err = call(c, "n1", "n3")
	require.NoError(t, err, "n1-n3 is not")
	assert.Equal(t, "n3", got)
	require.NoError(t, c.Heal(ctx))
}
