package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// kvSystem is just enough of a kvnode target for these tests (the real one
// lives in targets/; the deployment must not depend on it).
type kvSystem struct{ mode string }

func (s kvSystem) Name() string      { return "kvnode-" + s.mode }
func (kvSystem) GoPackage() string   { return modulePath + "/cmd/kvnode" }
func (kvSystem) Bugs() []harness.Bug { return nil }
func (kvSystem) Build(context.Context, string) (string, error) {
	return "", fmt.Errorf("built by the deployment: %w", harness.ErrUnsupported)
}
func (s kvSystem) ReportsLeader() bool { return s.mode == "raft" }
func (s kvSystem) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	var peers []string
	for id, a := range n.Peers {
		peers = append(peers, id+"="+a)
	}
	sort.Strings(peers)
	args := []string{"--mode", s.mode, "--id", n.ID, "--listen", n.Listen, "--peers", strings.Join(peers, ","), "--data", n.DataDir}
	if n.Bug != "" {
		args = append(args, "--bug", n.Bug)
	}
	return harness.Launch{Binary: n.Binary, Args: args}, nil
}
func (kvSystem) NewClient(harness.Node) (harness.Client, error) { return nil, harness.ErrUnsupported }
func (kvSystem) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	c := client.New(n.Addr(), time.Second)
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return harness.NodeStatus{}, err
	}
	return harness.NodeStatus{ID: st.ID, Role: st.Role, Term: st.Term, Leader: st.Leader, Commit: st.Commit, Applied: st.Applied}, nil
}
func (kvSystem) Digest(context.Context, harness.Node) (harness.Digest, error) {
	return harness.Digest{}, harness.ErrUnsupported
}
func (kvSystem) SetClock(ctx context.Context, n harness.Node, offset time.Duration) error {
	c := client.New(n.Addr(), time.Second)
	defer c.Close()
	return c.SetClock(ctx, offset)
}

func requireKvnode(t *testing.T) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", os.DevNull, modulePath+"/cmd/kvnode")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cmd/kvnode does not build yet: %v: %s", err, out)
	}
}

func deployKV(t *testing.T, mode string, nodes int) (*Cluster, time.Duration) {
	t.Helper()
	log := &testLogger{t: t}
	start := time.Now()
	// Log when each step of Deploy ends, for the figures.
	log.on = func(msg string) {
		for _, step := range []string{"docker: go build", "docker: image built", "docker: images ready", "docker: cluster started"} {
			if msg == step {
				t.Logf("STEP %s at %v", step, time.Since(start).Round(time.Millisecond))
			}
		}
	}
	d := newTestDeployment(t, log)
	run := runID(t)
	hc, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: nodes, System: kvSystem{mode: mode}, RunID: run})
	require.NoError(t, err)
	c := hc.(*Cluster)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if t.Failed() {
			dir := filepath.Join(os.TempDir(), "gauntlet-docker-failed-"+run)
			if err := c.CollectLogs(ctx, dir); err == nil {
				t.Logf("node logs in %s", dir)
			}
		}
		assert.NoError(t, c.Close(ctx))
		assert.Empty(t, leftovers(t, run))
	})
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	err = c.WaitHealthy(ctx)
	if err != nil && strings.Contains(err.Error(), "not built yet") {
		t.Skipf("kvnode %s mode is not finished: %v", mode, err)
	}
	require.NoError(t, err)
	return c, time.Since(start)
}

// waitLeader waits for a leader other than not, agreed by the nodes in ids.
func waitLeader(t *testing.T, c *Cluster, ids []string, not string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		agreed := ""
		for i, id := range ids {
			st, err := status(t.Context(), c, id, time.Second)
			if err != nil || st.Leader == "" || st.Leader == not || (i > 0 && st.Leader != agreed) {
				agreed = ""
				break
			}
			agreed = st.Leader
		}
		if agreed != "" {
			return agreed
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no leader other than %q agreed by %v", not, ids)
	return ""
}

func TestKvnodeRaft(t *testing.T) {
	requireDocker(t)
	requireKvnode(t)
	c, took := deployKV(t, "raft", 3)
	t.Logf("3-node kvnode raft cluster healthy in %v", took.Round(time.Millisecond))
	ctx := t.Context()

	leader, err := c.Leader(ctx)
	require.NoError(t, err)
	var others []string
	for _, id := range c.Nodes() {
		if id != leader {
			others = append(others, id)
		}
	}
	kv := client.New(c.ClientAddr(leader), 2*time.Second)
	defer kv.Close()
	require.NoError(t, kv.Put(ctx, "k", "v1"))

	// Isolate the leader: the others elect a new one, through real drops.
	start := time.Now()
	require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{leader}, others)))
	applied := time.Since(start)
	newLeader := waitLeader(t, c, others, leader)
	t.Logf("partition applied in %v; %s elected after %v", applied.Round(time.Millisecond), newLeader, time.Since(start).Round(time.Millisecond))
	kv2 := client.New(c.ClientAddr(newLeader), 2*time.Second)
	defer kv2.Close()
	require.NoError(t, kv2.Put(ctx, "k", "v2"))

	start = time.Now()
	require.NoError(t, c.Heal(ctx))
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, c.WaitHealthy(hctx))
	t.Logf("healed and one leader again after %v", time.Since(start).Round(time.Millisecond))

	// Kill the new leader, restart it from its volume: it rejoins.
	require.NoError(t, c.Kill(ctx, newLeader))
	waitLeader(t, c, []string{leader}, newLeader)
	require.NoError(t, c.Start(ctx, newLeader))
	require.NoError(t, c.WaitHealthy(hctx))
	v, found, err := kv2.Get(ctx, "k", false)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "v2", v)

	require.NoError(t, c.SetClock(ctx, leader, 3*time.Second))

	dir := t.TempDir()
	require.NoError(t, c.CollectLogs(ctx, dir))
	b, err := os.ReadFile(filepath.Join(dir, newLeader, "node.log"))
	require.NoError(t, err)
	t.Logf("%s's log: %d bytes", newLeader, len(b))
	assert.NotEmpty(t, b)
}

// TestKvnodeQuorum checks that a partition made by nftables is one kvnode
// feels: an isolated replica cannot gather a write quorum, the majority can.
func TestKvnodeQuorum(t *testing.T) {
	requireDocker(t)
	requireKvnode(t)
	c, took := deployKV(t, "quorum", 3)
	t.Logf("3-node kvnode quorum cluster healthy in %v", took.Round(time.Millisecond))
	ctx := t.Context()
	kv1 := client.New(c.ClientAddr("n1"), 2*time.Second)
	defer kv1.Close()
	kv2 := client.New(c.ClientAddr("n2"), 2*time.Second)
	defer kv2.Close()
	require.NoError(t, kv1.Put(ctx, "k", "v1"))

	require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n1"}, []string{"n2", "n3"})))
	assert.Error(t, kv1.Put(ctx, "k", "v2"), "an isolated replica has no write quorum")
	require.NoError(t, kv2.Put(ctx, "k", "v3"), "the majority has one")
	require.NoError(t, c.Heal(ctx))
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, _, err := kv1.Get(ctx, "k", false)
		if err == nil {
			assert.Equal(t, "v3", v)
			break
		}
		require.True(t, time.Now().Before(deadline), "n1 never served again after heal: %v", err)
		time.Sleep(100 * time.Millisecond)
	}

	require.NoError(t, c.Kill(ctx, "n3"))
	require.NoError(t, kv1.Put(ctx, "k", "v4"), "2 of 3 replicas are a quorum")
	require.NoError(t, c.Start(ctx, "n3"))
	require.NoError(t, c.SetClock(ctx, "n2", 3*time.Second))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, c.WaitHealthy(wctx))
}

// TestFigures measures what the report asks for on 5 kvnode nodes. Opt-in
// (GAUNTLET_DOCKER_FIGURES=1): it removes our cached images to time a cold
// start, which would slow down other runs sharing the daemon.
func TestFigures(t *testing.T) {
	if os.Getenv("GAUNTLET_DOCKER_FIGURES") != "1" {
		t.Skip("set GAUNTLET_DOCKER_FIGURES=1 to measure deploy and partition times")
	}
	requireDocker(t)
	requireKvnode(t)
	rmi := exec.Command("sh", "-c", `docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^gauntlet-(node|fault):' | xargs -r docker rmi`)
	out, err := rmi.CombinedOutput()
	t.Logf("removed images: %v %s", err, out)
	mode := os.Getenv("GAUNTLET_DOCKER_FIGURES_MODE")
	if mode == "" {
		mode = "raft"
	}
	for _, phase := range []string{"images not cached", "images cached"} {
		t.Run(phase, func(t *testing.T) {
			c, took := deployKV(t, mode, 5)
			t.Logf("FIGURE 5-node %s cluster healthy, %s: %v", mode, phase, took.Round(time.Millisecond))
			leader := "n1"
			if mode == "raft" {
				var err error
				leader, err = c.Leader(t.Context())
				require.NoError(t, err)
			}
			var others []string
			for _, id := range c.Nodes() {
				if id != leader {
					others = append(others, id)
				}
			}
			for i := range 3 {
				start := time.Now()
				require.NoError(t, c.Partition(t.Context(), harness.Symmetric([]string{leader}, others)))
				apply := time.Since(start)
				start = time.Now()
				require.NoError(t, c.Heal(t.Context()))
				t.Logf("FIGURE partition %d: apply %v, heal %v", i, apply.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			}
		})
	}
}
