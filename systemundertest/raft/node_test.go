package raft_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
	"github.com/gauntlet-dev/gauntlet/systemundertest/storage"
)

// listFSM appends every command; Apply returns the index.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *listFSM) Apply(index uint64, data []byte) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(data))
	return index
}

func (f *listFSM) Snapshot() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return json.Marshal(f.cmds)
}

func (f *listFSM) Restore(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = nil
	return json.Unmarshal(b, &f.cmds)
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

type fsm = raft.FSM

type member struct {
	node  *raft.Node
	fsm   *listFSM
	store *storage.Store // nil when in memory
	log   raft.LogStore
	hs    raft.StableStore
	snaps raft.SnapshotStore
}

type cluster struct {
	t       testing.TB
	net     *raft.InmemNetwork
	ids     []string
	members map[string]*member
	tune    func(*raft.Config)
	newFSM  func() fsm
	disk    bool
	dirs    map[string]string
}

func newCluster(t testing.TB, n int, disk bool, tune func(*raft.Config)) *cluster {
	return newClusterFSM(t, n, disk, nil, tune)
}

func newClusterFSM(t testing.TB, n int, disk bool, newFSM func() raft.FSM, tune func(*raft.Config)) *cluster {
	c := &cluster{t: t, net: raft.NewInmemNetwork(), members: map[string]*member{}, tune: tune, disk: disk,
		dirs: map[string]string{}, newFSM: newFSM}
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, fmt.Sprintf("n%d", i))
	}
	for _, id := range c.ids {
		if disk {
			c.dirs[id] = t.TempDir()
		}
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			c.stop(id)
		}
	})
	return c
}

func (c *cluster) start(id string) {
	m := c.members[id]
	if m == nil {
		m = &member{}
		if !c.disk {
			m.log, m.hs, m.snaps = raft.NewInmemLog(), &raft.InmemStable{}, &raft.InmemSnapshots{}
		}
		c.members[id] = m
	}
	if c.disk {
		st, err := storage.Open(c.dirs[id])
		require.NoError(c.t, err)
		m.store, m.log, m.hs, m.snaps = st, st.Log(), st.Stable(), st.Snapshots()
	}
	m.fsm = &listFSM{}
	var f raft.FSM = m.fsm
	if c.newFSM != nil {
		f = c.newFSM()
	}
	cfg := raft.Config{
		ID: id, Peers: c.ids, Transport: c.net.Transport(id),
		Log: m.log, Stable: m.hs, Snapshots: m.snaps, FSM: f,
		ElectionTimeout: 100 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond,
		Seed: 1,
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	node, err := raft.NewNode(cfg)
	require.NoError(c.t, err)
	m.node = node
	c.net.Register(id, node.Deliver)
}

func (c *cluster) stop(id string) {
	m := c.members[id]
	if m == nil || m.node == nil {
		return
	}
	c.net.Register(id, nil)
	m.node.Stop()
	m.node = nil
	if m.store != nil {
		require.NoError(c.t, m.store.Close())
		m.store = nil
	}
}

func (c *cluster) leader() *raft.Node {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range c.ids {
			if m := c.members[id]; m.node != nil && m.node.Status().Role == "leader" {
				return m.node
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatal("no leader elected within 5s")
	return nil
}

// propose retries on the current leader until the command is applied.
func (c *cluster) propose(cmd string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.leader().Propose(ctx, []byte(cmd))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("proposal %q not applied within 10s", cmd)
}

func (c *cluster) waitApplied(id string, want []string) {
	require.Eventually(c.t, func() bool {
		m := c.members[id]
		return m.node != nil && len(m.fsm.list()) >= len(want)
	}, 10*time.Second, 5*time.Millisecond, "%s did not apply %d commands", id, len(want))
	require.Equal(c.t, want, c.members[id].fsm.list()[:len(want)])
}

func TestNodeReplicates(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	var want []string
	for i := range 20 {
		cmd := fmt.Sprintf("c%d", i)
		c.propose(cmd)
		want = append(want, cmd)
	}
	for _, id := range c.ids {
		c.waitApplied(id, want)
	}
}

func TestNodeErrors(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	lead := c.leader()
	c.propose("first")
	var follower *raft.Node
	for _, id := range c.ids {
		if n := c.members[id].node; n != lead {
			follower = n
		}
	}
	ctx := context.Background()
	_, err := follower.Propose(ctx, []byte("x"))
	require.ErrorIs(t, err, raft.ErrNotLeader)
	require.ErrorIs(t, follower.ReadIndex(ctx), raft.ErrNotLeader)
	require.NoError(t, lead.ReadIndex(ctx))

	// An isolated leader cannot commit: the outcome is unknown, and
	// CheckQuorum makes it step down, so that reads fail too.
	leadID := lead.Status().ID
	c.net.Isolate(leadID)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = lead.Propose(tctx, []byte("lost?"))
	cancel()
	require.ErrorIs(t, err, raft.ErrUnknownOutcome)
	require.Eventually(t, func() bool { return lead.Status().Role != "leader" }, 2*time.Second, 5*time.Millisecond,
		"an isolated leader must step down (CheckQuorum)")
	tctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	require.Error(t, lead.ReadIndex(tctx))
	cancel()
	c.net.Heal()
	c.propose("after heal")

	c.stop(leadID)
	_, err = lead.Propose(ctx, []byte("x"))
	require.ErrorIs(t, err, raft.ErrStopped)
	require.ErrorIs(t, lead.ReadIndex(ctx), raft.ErrStopped)
}

// Proposals waiting when leadership is lost end with ErrUnknownOutcome,
// not with a hang.
func TestNodeUnknownOnStepDown(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	lead := c.leader()
	c.propose("first")
	c.net.Isolate(lead.Status().ID)
	// A deadline the step-down beats by far: what ends the proposal must
	// be the step-down, not the deadline (also unknown), whatever the load.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := lead.Propose(ctx, []byte("stranded"))
	require.ErrorIs(t, err, raft.ErrUnknownOutcome)
	require.NoError(t, ctx.Err(), "the proposal should fail when the leader steps down, not at its deadline")
}

// Every node is stopped and restarted from its data directory: the log,
// term and vote survive, and the state machine is rebuilt.
func TestNodeRestartFromDisk(t *testing.T) {
	c := newCluster(t, 3, true, func(cfg *raft.Config) { cfg.SnapshotThreshold = 16 })
	var want []string
	for i := range 50 {
		cmd := fmt.Sprintf("c%d", i)
		c.propose(cmd)
		want = append(want, cmd)
	}
	for _, id := range c.ids {
		c.waitApplied(id, want)
	}
	terms := map[string]uint64{}
	for _, id := range c.ids {
		terms[id] = c.members[id].node.Status().Term
		c.stop(id)
	}
	for _, id := range c.ids {
		c.start(id)
		require.GreaterOrEqual(t, c.members[id].node.Status().Term, terms[id], "term went backwards on restart")
	}
	c.propose("after restart")
	want = append(want, "after restart")
	for _, id := range c.ids {
		c.waitApplied(id, want)
	}
}

// A follower that was down while the others compacted their logs is caught
// up by a snapshot, and then by appends.
func TestNodeSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 3, true, func(cfg *raft.Config) { cfg.SnapshotThreshold = 8 })
	lead := c.leader()
	var lagger string
	for _, id := range c.ids {
		if c.members[id].node != lead {
			lagger = id
		}
	}
	c.stop(lagger)
	var want []string
	for i := range 40 {
		cmd := fmt.Sprintf("c%d", i)
		c.propose(cmd)
		want = append(want, cmd)
	}
	require.Greater(t, lead.Status().Snapshot, uint64(8), "the leader should have compacted")
	c.start(lagger)
	c.waitApplied(lagger, want)
	require.Positive(t, c.members[lagger].node.Status().Snapshot, "the lagger should hold a snapshot")
	c.propose("more")
	c.waitApplied(lagger, append(want, "more"))
}

// Writes from concurrent clients while the leader and then a follower are
// stopped (as by SIGKILL: nothing is flushed on the way out) and restarted:
// every acknowledged write is applied everywhere in the end.
func TestNodeCrashesKeepAcknowledgedWrites(t *testing.T) {
	c := newCluster(t, 3, true, func(cfg *raft.Config) { cfg.SnapshotThreshold = 64 })
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cmd := fmt.Sprintf("w%d-%d", w, i)
				var node *raft.Node
				for _, id := range c.ids {
					mu.Lock()
					n := c.members[id].node
					mu.Unlock()
					if n != nil && n.Status().Role == "leader" {
						node = n
					}
				}
				if node == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				_, err := node.Propose(ctx, []byte(cmd))
				cancel()
				if err == nil {
					mu.Lock()
					acked[cmd] = true
					mu.Unlock()
				}
			}
		}()
	}
	restart := func(id string) {
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		c.stop(id)
		mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		c.start(id)
		mu.Unlock()
	}
	restart(c.leader().Status().ID)
	lead := c.leader()
	for _, id := range c.ids {
		if c.members[id].node != lead {
			restart(id)
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	c.propose("final")
	require.NotEmpty(t, acked)
	for _, id := range c.ids {
		require.Eventually(t, func() bool {
			got := c.members[id].fsm.list()
			return len(got) > 0 && got[len(got)-1] == "final"
		}, 10*time.Second, 10*time.Millisecond)
		have := map[string]bool{}
		for _, cmd := range c.members[id].fsm.list() {
			have[cmd] = true
		}
		for cmd := range acked {
			require.True(t, have[cmd], "%s lost acknowledged write %s", id, cmd)
		}
	}
}

// A follower cut off for several election timeouts rejoins without
// deposing the leader: pre-vote keeps its term from running ahead.
func TestNodePartitionedFollowerDoesNotDisrupt(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	lead := c.leader()
	c.propose("first")
	before := lead.Status()
	var follower string
	for _, id := range c.ids {
		if c.members[id].node != lead {
			follower = id
		}
	}
	c.net.Isolate(follower)
	time.Sleep(600 * time.Millisecond) // six election timeouts
	c.net.Heal()
	c.propose("second")
	c.waitApplied(follower, []string{"first", "second"})
	after := lead.Status()
	require.Equal(t, "leader", after.Role)
	require.Equal(t, before.Term, after.Term, "the rejoining follower forced an election")
	require.Equal(t, before.Term, c.members[follower].node.Status().Term)
}

// ReadIndex on a leader cut off from its followers does not return, even
// before CheckQuorum makes it step down; with lease-no-bound it does.
func TestNodeReadIndexNeedsMajority(t *testing.T) {
	for _, bug := range []string{"", raft.BugLeaseNoBound} {
		t.Run("bug="+bug, func(t *testing.T) {
			c := newCluster(t, 3, false, func(cfg *raft.Config) { cfg.Bug = bug })
			lead := c.leader()
			c.propose("a")
			require.NoError(t, lead.ReadIndex(context.Background()))
			c.net.Isolate(lead.Status().ID)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			err := lead.ReadIndex(ctx)
			if bug == "" {
				require.Error(t, err, "an isolated leader confirmed a read")
			} else {
				require.NoError(t, err, "lease-no-bound serves reads on belief alone")
			}
		})
	}
}

// A leader cut off from its followers cannot commit: a correct node leaves
// the outcome unknown, ack-before-commit acknowledges the write anyway.
func TestNodeAckBeforeCommit(t *testing.T) {
	for _, bug := range []string{"", raft.BugAckBeforeCommit} {
		t.Run("bug="+bug, func(t *testing.T) {
			c := newCluster(t, 3, false, func(cfg *raft.Config) { cfg.Bug = bug })
			lead := c.leader()
			c.propose("a")
			c.net.Isolate(lead.Status().ID)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := lead.Propose(ctx, []byte("stranded"))
			if bug == "" {
				require.ErrorIs(t, err, raft.ErrUnknownOutcome)
			} else {
				require.NoError(t, err, "ack-before-commit acknowledges on the leader's fsync alone")
			}
		})
	}
}
