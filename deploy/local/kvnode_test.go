package local_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/deploy/local"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/kvnode"
)

// These tests run the real kvnode (built by the target's Build) on the
// local deployment.

func deployKV(t *testing.T, mode string, nodes int) (*local.Cluster, harness.System) {
	dir := t.TempDir()
	sys := kvnode.New(mode)
	cache := os.Getenv("GAUNTLET_TEST_CACHE")
	if cache == "" {
		cache = filepath.Join(dir, "cache")
	}
	d := local.New(local.Options{BaseDir: cache})
	for _, f := range []harness.Fault{harness.FaultPartition, harness.FaultKill, harness.FaultPause, harness.FaultClock, harness.FaultLoss, harness.FaultLatency} {
		assert.True(t, d.Supports(sys, f), "%s on %s", f, mode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc, err := d.Deploy(ctx, harness.ClusterSpec{Nodes: nodes, System: sys, Dir: dir, RunID: t.Name()})
	if hc != nil {
		t.Cleanup(func() { hc.Close(context.Background()) })
	}
	require.NoError(t, err)
	c := hc.(*local.Cluster)
	hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer hcancel()
	t0 := time.Now()
	require.NoError(t, c.WaitHealthy(hctx))
	t.Logf("%d-node %s cluster healthy %s after deploy", nodes, mode, time.Since(t0).Round(time.Millisecond))
	return c, sys
}

func do(t *testing.T, sys harness.System, c *local.Cluster, node string, op harness.Op) harness.Op {
	cl, err := sys.NewClient(c.Node(node))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	op.Type = harness.Invoke
	return cl.Invoke(ctx, op)
}

func write(k, v string) harness.Op {
	return harness.Op{F: harness.FWrite, Key: k, Value: harness.Str(v)}
}
func read(k string) harness.Op { return harness.Op{F: harness.FRead, Key: k} }

// eventually retries f until it returns "" or the time is up.
func eventually(t *testing.T, d time.Duration, f func() string) time.Duration {
	t0 := time.Now()
	last := ""
	for time.Since(t0) < d {
		if last = f(); last == "" {
			return time.Since(t0)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not within %s: %s", d, last)
	return 0
}

func leaderOtherThan(t *testing.T, c *local.Cluster, not string) string {
	var l string
	took := eventually(t, 20*time.Second, func() string {
		var err error
		l, err = c.Leader(context.Background())
		if err != nil {
			return err.Error()
		}
		if l == not {
			return "still " + not
		}
		return ""
	})
	t.Logf("leader %s after %s", l, took.Round(time.Millisecond))
	return l
}

func TestRaftOnLocal(t *testing.T) {
	c, sys := deployKV(t, "raft", 5)
	ctx := context.Background()
	l1 := leaderOtherThan(t, c, "")
	r := do(t, sys, c, l1, write("k", "1"))
	require.Equal(t, harness.OK, r.Type, r.String())
	for _, n := range c.Nodes() {
		eventually(t, 5*time.Second, func() string {
			r := do(t, sys, c, n, read("k"))
			if r.Type != harness.OK || r.Value == nil || *r.Value != "1" {
				return r.String()
			}
			return ""
		})
	}

	// Isolate the leader: the majority elects another, the old one cannot write.
	var rest []string
	for _, n := range c.Nodes() {
		if n != l1 {
			rest = append(rest, n)
		}
	}
	require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{l1}, rest)))
	l2 := leaderOtherThan(t, c, l1)
	assert.NotEqual(t, l1, l2)
	r = do(t, sys, c, l2, write("k", "2"))
	assert.Equal(t, harness.OK, r.Type, r.String())
	r = do(t, sys, c, l1, write("k", "3"))
	assert.NotEqual(t, harness.OK, r.Type, "an isolated old leader must not commit: %s", r.String())

	require.NoError(t, c.Heal(ctx))
	hctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	require.NoError(t, c.WaitHealthy(hctx))
	cancel()

	// Kill a follower, write, restart it: it catches up from its data dir.
	var f string
	for _, n := range c.Nodes() {
		if l, _ := c.Leader(ctx); n != l {
			f = n
			break
		}
	}
	require.NoError(t, c.Kill(ctx, f))
	l3, err := c.Leader(ctx)
	require.NoError(t, err)
	r = do(t, sys, c, l3, write("k", "4"))
	require.Equal(t, harness.OK, r.Type, r.String())
	require.NoError(t, c.Start(ctx, f))
	eventually(t, 20*time.Second, func() string {
		r := do(t, sys, c, f, read("k"))
		if r.Type != harness.OK || r.Value == nil || *r.Value != "4" {
			return r.String()
		}
		return ""
	})

	// Pause the leader: another takes over; resumed, the cluster is whole.
	l4 := leaderOtherThan(t, c, "")
	require.NoError(t, c.Pause(ctx, l4))
	leaderOtherThan(t, c, l4)
	require.NoError(t, c.Resume(ctx, l4))
	hctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	require.NoError(t, c.WaitHealthy(hctx))
	cancel()

	// Latency and loss slow the cluster but it still serves.
	require.NoError(t, c.Netem(ctx, harness.LinkFault{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.1}))
	eventually(t, 20*time.Second, func() string {
		l, err := c.Leader(ctx)
		if err != nil {
			return err.Error()
		}
		if r := do(t, sys, c, l, write("k", "5")); r.Type != harness.OK {
			return r.String()
		}
		return ""
	})
	require.NoError(t, c.Heal(ctx))

	require.NoError(t, c.SetClock(ctx, "n1", 2*time.Second))
	require.NoError(t, c.SetClock(ctx, "n1", 0))
	digestsAgreeThenClose(t, c, sys)
}

// digestsAgreeThenClose waits for every node to hold the same state, then
// closes the cluster and checks that no node process is left.
func digestsAgreeThenClose(t *testing.T, c *local.Cluster, sys harness.System) {
	ctx := context.Background()
	eventually(t, 20*time.Second, func() string {
		var first harness.Digest
		for i, n := range c.Nodes() {
			d, err := harness.DigestOf(ctx, sys, c.Node(n))
			if err != nil {
				return err.Error()
			}
			if i == 0 {
				first = d
			} else if d.Digest != first.Digest {
				return fmt.Sprintf("%s has %s, n1 has %s", n, d.Digest, first.Digest)
			}
		}
		return ""
	})

	var pids []int
	for _, n := range c.Nodes() {
		pids = append(pids, c.PID(n))
	}
	require.NoError(t, c.Close(ctx))
	for _, p := range pids {
		_, err := os.Stat(fmt.Sprintf("/proc/%d", p))
		assert.True(t, os.IsNotExist(err), "kvnode pid %d left behind", p)
	}
}

func TestQuorumOnLocal(t *testing.T) {
	c, sys := deployKV(t, "quorum", 3)
	ctx := context.Background()
	_, err := c.Leader(ctx)
	assert.Error(t, err, "quorum mode has no leader")

	// Cut n3 off, write through n1: n3's replicas miss the writes.
	require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n3"}, []string{"n1", "n2"})))
	for i := 0; i < 5; i++ {
		r := do(t, sys, c, "n1", write(fmt.Sprintf("k%d", i), "v"))
		require.Equal(t, harness.OK, r.Type, r.String())
	}
	require.NoError(t, c.Heal(ctx))
	d3, err := harness.DigestOf(ctx, sys, c.Node("n3"))
	require.NoError(t, err)
	require.Zero(t, d3.Keys, "n3 missed the writes")

	conv, ok := sys.(harness.Converger)
	require.True(t, ok)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, conv.Converge(cctx, harness.NodesOf(c), nil))
	held := map[string]map[string]string{}
	for _, n := range c.Nodes() {
		d, err := harness.DigestOf(ctx, sys, c.Node(n))
		require.NoError(t, err)
		for k, h := range d.Values {
			if held[k] == nil {
				held[k] = map[string]string{}
			}
			held[k][n] = h
		}
	}
	require.Len(t, held, 5)
	for k, byNode := range held {
		assert.Len(t, byNode, 3, "with N=3 on 3 nodes every node holds %s", k)
		vals := map[string]bool{}
		for _, h := range byNode {
			vals[h] = true
		}
		assert.Len(t, vals, 1, "replicas of %s agree after Converge: %v", k, byNode)
	}
}
