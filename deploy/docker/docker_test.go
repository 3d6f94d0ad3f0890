package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/kit"
)

// testSystem runs internal/testnode, which lets tests look at the network
// from inside the cluster.
type testSystem struct{}

func (testSystem) Name() string { return "testnode" }
func (testSystem) GoPackage() string {
	return modulePath + "/deploy/docker/internal/testnode"
}
func (testSystem) Build(context.Context, string) (string, error) {
	return "", errors.New("testnode is built by the deployment (GoPackage)")
}
func (testSystem) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	var peers []string
	for id, a := range n.Peers {
		peers = append(peers, id+"="+a)
	}
	sort.Strings(peers)
	return harness.Launch{Binary: n.Binary, Args: []string{
		"--id", n.ID, "--listen", n.Listen, "--peers", strings.Join(peers, ","), "--data", n.DataDir,
	}}, nil
}
func (testSystem) NewClient(harness.Node) (harness.Client, error) {
	return nil, harness.ErrUnsupported
}
func (testSystem) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	var st harness.NodeStatus
	err := getJSON(ctx, "http://"+n.Addr()+"/status", &st)
	return st, err
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// requireDocker skips without a daemon, unless GAUNTLET_REQUIRE_DOCKER=1.
func requireDocker(t *testing.T) {
	t.Helper()
	if fail, msg := noDocker(Available(t.Context()), os.Getenv(RequireEnv)); fail {
		t.Fatal(msg)
	} else if msg != "" {
		t.Skip(msg)
	}
}

// noDocker decides what a test does when Available returned err.
func noDocker(err error, require string) (fail bool, msg string) {
	switch {
	case err == nil:
		return false, ""
	case require == "1":
		return true, fmt.Sprintf("%s=1 but Docker is not available: %v", RequireEnv, err)
	}
	return false, fmt.Sprintf("skipping: Docker is not available (%v); set %s=1 to fail instead", err, RequireEnv)
}

func TestNoDocker(t *testing.T) {
	fail, msg := noDocker(nil, "1")
	assert.False(t, fail)
	assert.Empty(t, msg)
	fail, msg = noDocker(errors.New("dial unix /var/run/docker.sock: no such file"), "")
	assert.False(t, fail)
	assert.Contains(t, msg, "no such file")
	fail, msg = noDocker(errors.New("refused"), "1")
	assert.True(t, fail, "CI cannot pass by skipping")
	assert.Contains(t, msg, "refused")
}

type testLogger struct {
	t  *testing.T
	mu sync.Mutex
	on func(msg string) // called for every message, for tests that react to a phase
}

func (l *testLogger) log(level, msg string, args ...any) {
	l.mu.Lock()
	on := l.on
	l.mu.Unlock()
	if on != nil {
		on(msg)
	}
	if level != "DEBUG" || testing.Verbose() {
		l.t.Log(append([]any{level, msg}, args...)...)
	}
}
func (l *testLogger) Info(msg string, args ...any)  { l.log("INFO", msg, args...) }
func (l *testLogger) Warn(msg string, args ...any)  { l.log("WARN", msg, args...) }
func (l *testLogger) Error(msg string, args ...any) { l.log("ERROR", msg, args...) }
func (l *testLogger) Debug(msg string, args ...any) { l.log("DEBUG", msg, args...) }

func newTestDeployment(t *testing.T, log *testLogger) *Deployment {
	// GAUNTLET_MODULE_DIR: build from a snapshot, e.g. `git archive HEAD`,
	// when the checkout changes under the test (figures of a cached start).
	return New(Options{
		Logger:    log,
		CacheDir:  filepath.Join(os.TempDir(), "gauntlet-docker-test-cache"),
		ModuleDir: os.Getenv("GAUNTLET_MODULE_DIR"),
	}).(*Deployment)
}

func runID(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", strings.ToLower(nodes.Sanitize(t.Name())), time.Now().UnixNano()%1e9)
}

// leftovers lists what carries the run's label, as `docker ps -a`,
// `docker network ls` and `docker volume ls` filtered by it would.
func leftovers(t *testing.T, run string) []string {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	cli, err := newClient(ctx)
	require.NoError(t, err)
	defer cli.Close()
	f := make(client.Filters).Add("label", LabelRun+"="+run)
	var out []string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	require.NoError(t, err)
	for _, c := range cs.Items {
		out = append(out, "container "+strings.Join(c.Names, ","))
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	require.NoError(t, err)
	for _, n := range ns.Items {
		out = append(out, "network "+n.Name)
	}
	vs, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	require.NoError(t, err)
	for _, v := range vs.Items {
		out = append(out, "volume "+v.Name)
	}
	return out
}

func deploy(t *testing.T, d *Deployment, nodes int) *Cluster {
	t.Helper()
	run := runID(t)
	start := time.Now()
	hc, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: nodes, System: testSystem{}, RunID: run, Dir: t.TempDir()})
	require.NoError(t, err)
	c := hc.(*Cluster)
	t.Cleanup(func() {
		// As after Ctrl-C: Close gets a context that is already done.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.NoError(t, c.Close(ctx))
		assert.Empty(t, leftovers(t, run), "Close left these behind")
		assert.NoError(t, c.Close(ctx), "Close is idempotent")
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, c.WaitHealthy(ctx))
	t.Logf("FIGURE %d-node cluster healthy %v after Deploy was called", nodes, time.Since(start).Round(time.Millisecond))
	return c
}

// dial asks node from to open n TCP connections to peer, each given timeout.
func dial(t *testing.T, c *Cluster, from, peer string, n int, timeout time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout+5*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://%s/dial?peer=%s&n=%d&timeout=%s", c.ClientAddr(from), peer, n, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	ok, err := strconv.Atoi(string(b))
	require.NoError(t, err, "dial answer %q", b)
	return ok
}

func status(ctx context.Context, c *Cluster, id string, timeout time.Duration) (harness.NodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return harness.StatusOf(ctx, c.spec.System, c.Node(id))
}

func waitStatus(t *testing.T, c *Cluster, id string) harness.NodeStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := status(t.Context(), c, id, time.Second)
		if err == nil {
			return st
		}
		require.True(t, time.Now().Before(deadline), "%s never answered again: %v", id, err)
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCluster(t *testing.T) {
	requireDocker(t)
	log := &testLogger{t: t}
	c := deploy(t, newTestDeployment(t, log), 3)
	ctx := t.Context()
	t.Run("addresses", func(t *testing.T) {
		assert.Equal(t, []string{"n1", "n2", "n3"}, c.Nodes())
		seen := map[string]bool{}
		for _, id := range c.Nodes() {
			addr := c.ClientAddr(id)
			assert.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
			assert.False(t, seen[addr])
			seen[addr] = true
			// Published on 127.0.0.1 only, never 0.0.0.0.
			insp, err := c.cli.ContainerInspect(ctx, c.byID[id].holder.ID, client.ContainerInspectOptions{})
			require.NoError(t, err)
			for _, bs := range insp.Container.HostConfig.PortBindings {
				for _, b := range bs {
					assert.Equal(t, "127.0.0.1", b.HostIP.String())
				}
			}
		}
		assert.Equal(t, 3, dial(t, c, "n1", "n2", 3, time.Second))
	})

	networkFaults(t, c)

	t.Run("kill and restart keep IP, port, data and rules", func(t *testing.T) {
		before := waitStatus(t, c, "n2")
		addr, ip := c.ClientAddr("n2"), c.IP("n2")
		require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n1"}, []string{"n2", "n3"})))

		require.NoError(t, c.Kill(ctx, "n2"))
		st, err := c.nodeState(ctx, "n2")
		require.NoError(t, err)
		assert.False(t, st.Running)
		assert.Equal(t, 137, st.ExitCode, "SIGKILL")
		_, err = status(ctx, c, "n2", 500*time.Millisecond)
		assert.Error(t, err)
		require.NoError(t, c.Kill(ctx, "n2"), "killing a dead node is a no-op")

		start := time.Now()
		require.NoError(t, c.Start(ctx, "n2"))
		after := waitStatus(t, c, "n2")
		t.Logf("restart to answering: %v", time.Since(start).Round(time.Millisecond))
		assert.Equal(t, addr, c.ClientAddr("n2"))
		assert.Equal(t, before.Term+1, after.Term, "boot count kept on the volume")
		assert.Equal(t, 0, dial(t, c, "n2", "n1", 3, 300*time.Millisecond), "partition survived the restart")
		assert.Equal(t, 3, dial(t, c, "n3", "n2", 3, time.Second), "n3 still reaches n2 at %s", ip)
		require.NoError(t, c.Heal(ctx))
		assert.Equal(t, 3, dial(t, c, "n1", "n2", 3, time.Second))

		require.NoError(t, c.Stop(ctx, "n2"))
		require.NoError(t, c.Start(ctx, "n2"))
		assert.Equal(t, before.Term+2, waitStatus(t, c, "n2").Term)
	})

	t.Run("pause and resume", func(t *testing.T) {
		before := waitStatus(t, c, "n3")
		require.NoError(t, c.Pause(ctx, "n3"))
		_, err := status(ctx, c, "n3", 500*time.Millisecond)
		assert.Error(t, err, "a stopped process does not answer")
		time.Sleep(500 * time.Millisecond)
		require.NoError(t, c.Resume(ctx, "n3"))
		after := waitStatus(t, c, "n3")
		assert.Equal(t, before.Term, after.Term, "same process, not a restart")

		// Killing a paused node works (docker pause would refuse it).
		require.NoError(t, c.Pause(ctx, "n3"))
		require.NoError(t, c.Kill(ctx, "n3"))
		require.NoError(t, c.Start(ctx, "n3"))
		assert.Equal(t, before.Term+1, waitStatus(t, c, "n3").Term)
	})

	t.Run("clock goes to the system", func(t *testing.T) {
		assert.ErrorIs(t, c.SetClock(ctx, "n1", time.Second), harness.ErrUnsupported)
	})

	t.Run("logs", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, c.CollectLogs(ctx, dir))
		b, err := os.ReadFile(filepath.Join(dir, "n2", "node.log"))
		require.NoError(t, err)
		assert.Contains(t, string(b), "testnode n2 boot 1 ")
		assert.Contains(t, string(b), "testnode n2 boot 3 ", "every incarnation's output")
		f, err := os.ReadFile(filepath.Join(dir, "n1", "faults.log"))
		require.NoError(t, err)
		assert.Contains(t, string(f), "holder up")
		assert.Contains(t, string(f), "partition n1 drops")
		f, err = os.ReadFile(filepath.Join(dir, "n2", "faults.log"))
		require.NoError(t, err)
		assert.Contains(t, string(f), "SIGKILL")
		assert.Contains(t, string(f), "stop (SIGTERM)")
		f, err = os.ReadFile(filepath.Join(dir, "n3", "faults.log"))
		require.NoError(t, err)
		assert.Contains(t, string(f), "SIGSTOP")
		assert.Contains(t, string(f), "SIGCONT")
	})
}

// TestCancelMidDeploy cancels Deploy at two points and checks that nothing
// labelled with the run is left.
// networkFaults is TestCluster's part on the network: kernel-made
// partitions, loss and latency.
func networkFaults(t *testing.T, c *Cluster) {
	ctx := t.Context()
	t.Run("partition", func(t *testing.T) {
		start := time.Now()
		require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n1"}, []string{"n2", "n3"})))
		t.Logf("FIGURE partition applied in %v", time.Since(start).Round(time.Millisecond))
		assert.Equal(t, 0, dial(t, c, "n1", "n2", 3, 300*time.Millisecond))
		assert.Equal(t, 0, dial(t, c, "n3", "n1", 3, 300*time.Millisecond))
		assert.Equal(t, 3, dial(t, c, "n2", "n3", 3, time.Second), "the majority side stays connected")
		// The harness still reaches the isolated node.
		_, err := status(ctx, c, "n1", time.Second)
		require.NoError(t, err)

		// A new partition replaces the old one.
		require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n3"}, []string{"n1", "n2"})))
		assert.Equal(t, 3, dial(t, c, "n1", "n2", 3, time.Second))
		assert.Equal(t, 0, dial(t, c, "n1", "n3", 3, 300*time.Millisecond))

		start = time.Now()
		require.NoError(t, c.Heal(ctx))
		t.Logf("FIGURE heal applied in %v", time.Since(start).Round(time.Millisecond))
		for _, p := range [][2]string{{"n1", "n2"}, {"n1", "n3"}, {"n3", "n2"}} {
			assert.Equal(t, 3, dial(t, c, p[0], p[1], 3, time.Second), "%s->%s after heal", p[0], p[1])
		}
		assert.Error(t, c.Partition(ctx, harness.Grudge{"n9": {"n1"}}), "unknown node")
	})

	t.Run("loss", func(t *testing.T) {
		// A connection needs the SYN out and the SYN-ACK back: with loss p on
		// every link it succeeds with (1-p)^2 = 0.25 here (no SYN retry
		// within the dial timeout: Linux first retries after 1 s; the
		// timeout is as long as that allows, so a loaded machine's slow
		// dials are not counted as lost).
		const noRetry = 900 * time.Millisecond
		require.NoError(t, c.Netem(ctx, harness.LinkFault{Loss: 0.5}))
		ok := dial(t, c, "n1", "n2", 200, noRetry)
		t.Logf("loss 0.5: %d/200 connections", ok)
		assert.Greater(t, ok, 20)
		assert.Less(t, ok, 90)

		// Limited to one link: n1->n2 only (so only the SYN is at risk).
		require.NoError(t, c.Netem(ctx, harness.LinkFault{Loss: 0.5, Links: map[string][]string{"n1": {"n2"}}}))
		assert.Equal(t, 100, dial(t, c, "n1", "n3", 100, time.Second))
		ok = dial(t, c, "n1", "n2", 200, noRetry)
		t.Logf("loss 0.5 on n1->n2 only: %d/200 connections", ok)
		assert.Greater(t, ok, 60)
		assert.Less(t, ok, 140)

		require.NoError(t, c.Heal(ctx))
		assert.Equal(t, 200, dial(t, c, "n1", "n2", 200, time.Second))
	})

	t.Run("latency", func(t *testing.T) {
		err := c.Netem(ctx, harness.LinkFault{Latency: 100 * time.Millisecond})
		if !c.Supports(harness.FaultLatency) {
			require.ErrorIs(t, err, harness.ErrUnsupported)
			t.Logf("latency unsupported here, as expected: %v", err)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, 0, dial(t, c, "n1", "n2", 5, 50*time.Millisecond), "a 50ms dial cannot beat 100ms+ each way")
		require.NoError(t, c.Heal(ctx))
		assert.Equal(t, 5, dial(t, c, "n1", "n2", 5, time.Second))
	})
}

func TestCancelMidDeploy(t *testing.T) {
	requireDocker(t)
	for _, at := range []string{"docker: images ready", "Container started"} {
		t.Run(at, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			log := &testLogger{t: t}
			var once sync.Once
			log.on = func(msg string) {
				if strings.Contains(msg, at) {
					once.Do(cancel)
				}
			}
			d := newTestDeployment(t, log)
			run := runID(t)
			c, err := d.Deploy(ctx, harness.ClusterSpec{Nodes: 3, System: testSystem{}, RunID: run})
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Empty(t, leftovers(t, run))
		})
	}
}

const crashEnv = "GAUNTLET_DOCKER_CRASH_RUN"

// TestCrashHelper is the harness that gets SIGKILLed in TestCleanupStale.
func TestCrashHelper(t *testing.T) {
	run := os.Getenv(crashEnv)
	if run == "" {
		t.Skip("helper process for TestCleanupStale")
	}
	d := New(Options{CacheDir: filepath.Join(os.TempDir(), "gauntlet-docker-test-cache")})
	_, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: 2, System: testSystem{}, RunID: run})
	require.NoError(t, err)
	fmt.Println("DEPLOYED")
	time.Sleep(time.Hour)
}

// TestCleanupStale deploys from a child process and SIGKILLs it: the next
// Deploy removes what it left, and CleanupStale leaves a live run alone.
func TestCleanupStale(t *testing.T) {
	requireDocker(t)
	run := runID(t) + "-crashed"
	cmd := execSelf(t, "^TestCrashHelper$", crashEnv+"="+run)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = Cleanup(context.Background(), run) })
	deployed := make(chan bool, 1)
	go func() {
		b := make([]byte, 4096)
		var all []byte
		for {
			n, err := out.Read(b)
			all = append(all, b[:n]...)
			if strings.Contains(string(all), "DEPLOYED") {
				deployed <- true
				io.Copy(io.Discard, out)
				return
			}
			if err != nil {
				deployed <- false
				return
			}
		}
	}()
	select {
	case ok := <-deployed:
		require.True(t, ok, "helper failed to deploy")
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("helper did not deploy in time")
	}
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	left := leftovers(t, run)
	require.NotEmpty(t, left, "the crashed harness should have left its cluster")
	t.Logf("left by the crashed harness: %v", left)

	// The next run cleans up before it deploys.
	live := deploy(t, newTestDeployment(t, &testLogger{t: t}), 1)
	assert.Empty(t, leftovers(t, run))

	require.NoError(t, CleanupStale(t.Context()))
	assert.NotEmpty(t, leftovers(t, live.RunID()), "a live run is not stale")
	_, err = status(t.Context(), live, "n1", time.Second)
	assert.NoError(t, err)
}

func TestSubnetCandidates(t *testing.T) {
	a := subnetCandidates("run-a", 8)
	b := subnetCandidates("run-b", 8)
	assert.Len(t, a, 8)
	assert.NotEqual(t, a[0], b[0])
	assert.Equal(t, a, subnetCandidates("run-a", 8), "deterministic")
	for _, p := range a {
		assert.Equal(t, 24, p.Bits())
		assert.True(t, p.Addr().Is4())
		assert.Equal(t, byte(10), p.Addr().As4()[0])
	}
	assert.Len(t, slicesCompact(a), 8, "candidates differ")
}

func slicesCompact[T comparable](s []T) []T {
	seen := map[T]bool{}
	var out []T
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func TestOwnerAlive(t *testing.T) {
	assert.True(t, ownerAlive(owner(), time.Now()))
	host, _ := os.Hostname()
	assert.False(t, ownerAlive(fmt.Sprintf("%s/%d/1", host, os.Getpid()+1_000_000), time.Now()), "no such pid")
	assert.True(t, ownerAlive("elsewhere/1/2", time.Now()), "another host's fresh run")
	assert.False(t, ownerAlive("elsewhere/1/2", time.Now().Add(-7*time.Hour)), "another host's old run")
}

func TestFaultState(t *testing.T) {
	c := &Cluster{byID: map[string]*node{}}
	for i, id := range []string{"n1", "n2", "n3"} {
		n := &node{id: id, ip: mustAddr(fmt.Sprintf("10.1.2.%d", i+2))}
		c.nodes = append(c.nodes, n)
		c.byID[id] = n
	}
	c.grudge = harness.Grudge{"n1": {"n3", "n2"}}
	c.link = harness.LinkFault{Loss: 0.1, Links: map[string][]string{"n2": {"n3"}}}
	assert.Equal(t, &faultState{Drop: []string{"10.1.2.3", "10.1.2.4"}}, c.faultState(c.nodes[0]))
	assert.Equal(t, &faultState{Loss: 0.1, LossTo: []string{"10.1.2.4"}}, c.faultState(c.nodes[1]))
	assert.True(t, c.faultState(c.nodes[2]).empty())
	c.link.Links = nil
	assert.Equal(t, []string{"10.1.2.2", "10.1.2.3"}, c.faultState(c.nodes[2]).LossTo, "nil Links = every link")
	assert.False(t, c.faultState(c.nodes[2]).equal(nil))
}

// TestSubnetOverlap takes the run's first subnet candidate before Deploy:
// Docker answers "pool overlaps" and Deploy moves on to the next one.
func TestSubnetOverlap(t *testing.T) {
	requireDocker(t)
	run := runID(t)
	first := subnetCandidates(run, 1)[0]
	if overlapsLocal(first) {
		t.Skipf("%s is used by this host already", first)
	}
	cli, err := newClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	blocker := run + "-blocker"
	_, err = cli.NetworkCreate(t.Context(), "gauntlet-"+blocker, client.NetworkCreateOptions{
		Driver: "bridge",
		IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: first}}},
		Labels: map[string]string{LabelRun: blocker, LabelOwner: owner()},
	})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, Cleanup(context.Background(), blocker)) })

	d := newTestDeployment(t, &testLogger{t: t})
	hc, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: 1, System: testSystem{}, RunID: run})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, hc.Close(context.Background()))
		assert.Empty(t, leftovers(t, run))
	})
	ip := mustAddr(hc.(*Cluster).IP("n1"))
	assert.False(t, first.Contains(ip), "n1 at %s should not be in the taken %s", ip, first)
}

func TestByTime(t *testing.T) {
	in := []string{
		"2026-11-22T07:51:30.5Z holder up",
		"2026-11-22T07:52:01.17321Z applied {}",
		"  continuation of the line above",
		"2026-11-22T07:51:50.552305795Z SIGKILL",
		"2026-11-22T07:52:01.1736Z partition: applied {}",
	}
	assert.Equal(t, []string{in[0], in[3], in[1], in[2], in[4]}, byTime(in))
}

// builtSystem is shaped like a team's system: no Packager, a Build that
// makes a static binary (harness.GoBuild), a config file written by
// Launch, and a peer port of its own.
type builtSystem struct{ testSystem }

func (builtSystem) GoPackage() string { return "" }
func (builtSystem) Build(ctx context.Context, cache string) (string, error) {
	return kit.GoBuild(ctx, cache, modulePath+"/deploy/docker/internal/testnode")
}
func (builtSystem) Ports() []string { return []string{harness.PortPeer, "metrics"} }
func (s builtSystem) Launch(ctx context.Context, n harness.NodeSpec) (harness.Launch, error) {
	l, err := s.testSystem.Launch(ctx, n)
	l.Args = append(l.Args, "--peer-listen", n.Ports[harness.PortPeer])
	l.Files = map[string][]byte{"conf/node.conf": []byte("id=" + n.ID + " metrics=" + n.Ports["metrics"])}
	return l, err
}

func TestOutsideSystemShape(t *testing.T) {
	requireDocker(t)
	d := New(Options{CacheDir: t.TempDir()}).(*Deployment)
	run := runID(t)
	hc, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: 3, System: builtSystem{}, RunID: run, Dir: t.TempDir()})
	if hc != nil {
		t.Cleanup(func() {
			assert.NoError(t, hc.Close(context.Background()))
			assert.Empty(t, leftovers(t, run), "Close left these behind")
		})
	}
	require.NoError(t, err)
	c := hc.(*Cluster)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, c.WaitHealthy(ctx))

	resp, err := http.Get("http://" + c.ClientAddr("n2") + "/file?name=conf/node.conf")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "id=n2 metrics=", string(b)[:len("id=n2 metrics=")], "Launch's file is in the data dir")
	assert.Contains(t, string(b), ":7002", "the metrics port has a number of its own")
	n2 := c.Node("n2")
	assert.Equal(t, c.ClientAddr("n2"), n2.Addr())
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, n2.Ports["metrics"], "every named port is published for per-node calls")
	assert.NotEqual(t, n2.Addr(), n2.Ports["metrics"])

	// Peers dial each other's peer port, and a partition cuts one link.
	assert.Equal(t, 3, dial(t, c, "n1", "n2", 3, time.Second))
	require.NoError(t, c.Partition(ctx, harness.Grudge{"n1": {"n2"}, "n2": {"n1"}}))
	assert.Equal(t, 0, dial(t, c, "n1", "n2", 3, 500*time.Millisecond), "n1-n2 is cut")
	assert.Equal(t, 3, dial(t, c, "n1", "n3", 3, time.Second), "n1-n3 is not")
	require.NoError(t, c.Heal(ctx))
	assert.Equal(t, 3, dial(t, c, "n1", "n2", 3, time.Second))
}
