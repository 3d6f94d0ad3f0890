package kv

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

func TestLockEntries(t *testing.T) {
	f := NewFSM()
	var heard []string
	f.SetLockHook(func(name string, granted bool, l lockState) {
		heard = append(heard, name+map[bool]string{true: " granted to ", false: " released by "}[granted]+l.owner)
	})
	acq := func(idx uint64, owner string, expect uint64) LockResult {
		return f.Apply(idx, EncodeLockAcquire("L", owner, time.Second, expect)).(LockResult)
	}
	rel := func(idx uint64, owner string, token uint64) LockResult {
		return f.Apply(idx, EncodeLockRelease("L", owner, token)).(LockResult)
	}
	assert.Equal(t, LockResult{OK: true, Token: 3}, acq(3, "a", 0), "the token is the grant's log index")
	assert.Equal(t, LockResult{Token: 3, Owner: "a"}, acq(4, "b", 0), "held: refused")
	assert.Equal(t, LockResult{Token: 3, Owner: "a"}, acq(5, "b", 2), "expects another grant: refused")
	assert.Equal(t, LockResult{Token: 3, Owner: "a"}, rel(6, "b", 3), "not the owner")
	assert.Equal(t, LockResult{Token: 3, Owner: "a"}, rel(7, "a", 2), "not the grant")
	assert.Equal(t, LockResult{OK: true, Token: 8}, acq(8, "b", 3), "takes over the grant it names")
	assert.Equal(t, LockResult{Token: 8, Owner: "b"}, rel(9, "a", 3), "a's grant is gone")

	snap, err := f.Snapshot()
	require.NoError(t, err)
	g := NewFSM()
	require.NoError(t, g.Restore(snap))
	l, held := g.Lock("L")
	require.True(t, held, "locks survive snapshots")
	assert.Equal(t, lockState{owner: "b", token: 8, ttl: time.Second}, l)

	assert.Equal(t, LockResult{OK: true}, rel(10, "b", 8))
	_, held = f.Lock("L")
	assert.False(t, held)
	assert.Equal(t, LockResult{}, rel(11, "b", 8), "free: nothing to release")
	assert.Equal(t, []string{"L granted to a", "L granted to b", "L released by b"}, heard)

	_, isErr := f.Apply(12, []byte{opLockAcquire, 1}).(error)
	assert.True(t, isErr, "a torn entry changes nothing")
}

// manual is a clock the test moves.
type manual struct {
	env.Env
	mu  sync.Mutex
	now time.Time
}

func (m *manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *manual) advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

// termNode is a fakeNode whose term the test sets.
type termNode struct {
	*fakeNode
	mu   sync.Mutex
	term uint64
}

func (n *termNode) Status() raft.Status {
	st := n.fakeNode.Status()
	n.mu.Lock()
	st.Term = n.term
	n.mu.Unlock()
	return st
}

func (n *termNode) setTerm(t uint64) {
	n.mu.Lock()
	n.term = t
	n.mu.Unlock()
}

type lockNode struct {
	node  *termNode
	store *Store
	srv   *httptest.Server
}

// lockCluster is cluster's n1 (leader) and n2 on a manual clock.
func lockCluster(t *testing.T, bug string, clk *manual) (*lockNode, *lockNode) {
	t.Helper()
	peers := map[string]string{}
	var nodes []*lockNode
	for _, id := range []string{"n1", "n2"} {
		tn := &lockNode{node: &termNode{fakeNode: &fakeNode{id: id, leader: "n1", fsm: NewFSM()}, term: 1}}
		tn.srv = httptest.NewUnstartedServer(nil)
		peers[id] = tn.srv.Listener.Addr().String()
		nodes = append(nodes, tn)
	}
	for _, tn := range nodes {
		tn.store = NewStore(Config{ID: tn.node.id, Peers: peers, Node: tn.node, FSM: tn.node.fsm, Bug: bug,
			LeaderWait: 50 * time.Millisecond, ForwardTimeout: 2 * time.Second, Env: clk})
		tn.srv.Config.Handler = api.NewServer(tn.store, api.ServerOptions{Internal: tn.store.Handler()})
		tn.srv.Start()
		t.Cleanup(func() { tn.srv.Close(); _ = tn.store.Close() })
	}
	return nodes[0], nodes[1]
}

func TestLockLeases(t *testing.T) {
	clk := &manual{Env: env.OS(), now: time.Unix(1000, 0)}
	l, f := lockCluster(t, "", clk)
	ctx := context.Background()
	ttl := time.Second

	a, err := f.store.Acquire(ctx, "L", "a", ttl)
	require.NoError(t, err, "a follower forwards to the leader")
	assert.Equal(t, uint64(1), a)
	_, err = f.store.Acquire(ctx, "L", "b", ttl)
	assert.ErrorIs(t, err, api.ErrRefused, "held: refused, certainly not granted")
	assert.ErrorIs(t, err, api.ErrNotApplied)
	assert.Contains(t, err.Error(), "L is held by a (token 1)")

	clk.advance(ttl - time.Millisecond)
	_, err = l.store.Acquire(ctx, "L", "b", ttl)
	assert.ErrorIs(t, err, api.ErrRefused, "the lease has not run out")

	// A new term restarts every timer from the election: the lease that
	// had a millisecond left has a whole ttl again.
	l.node.setTerm(2)
	clk.advance(2 * time.Millisecond)
	_, err = l.store.Acquire(ctx, "L", "b", ttl)
	assert.ErrorIs(t, err, api.ErrRefused, "a new leader waits out old leases")
	clk.advance(ttl - 3*time.Millisecond)
	_, err = l.store.Acquire(ctx, "L", "b", ttl)
	assert.ErrorIs(t, err, api.ErrRefused)

	clk.advance(3 * time.Millisecond)
	b, err := l.store.Acquire(ctx, "L", "b", ttl)
	require.NoError(t, err, "the lease ran out: b takes over")
	assert.Greater(t, b, a, "tokens increase")

	err = f.store.Release(ctx, "L", "a", a)
	assert.ErrorIs(t, err, api.ErrRefused, "a no longer holds it")
	require.NoError(t, f.store.Release(ctx, "L", "b", b))
	c, err := l.store.Acquire(ctx, "L", "c", ttl)
	require.NoError(t, err, "released: free at once")
	assert.Greater(t, c, b)

	_, err = l.store.Acquire(ctx, "L", "d", time.Hour)
	assert.ErrorIs(t, err, api.ErrNotApplied, "a lease out of bounds is refused")
}

// A lock the leader has no timer for (restored from a snapshot) gets one
// from now: never an early takeover.
func TestLockWithoutTimerWaitsAWholeLease(t *testing.T) {
	clk := &manual{Env: env.OS(), now: time.Unix(1000, 0)}
	l, _ := lockCluster(t, "", clk)
	ctx := context.Background()
	l.node.fsm.Apply(7, EncodeLockAcquire("L", "a", time.Second, 0))
	l.store.leases.mu.Lock()
	delete(l.store.leases.until, "L")
	l.store.leases.mu.Unlock()
	clk.advance(999 * time.Millisecond)
	_, err := l.store.Acquire(ctx, "L", "b", time.Second)
	assert.ErrorIs(t, err, api.ErrRefused)
	clk.advance(999 * time.Millisecond)
	_, err = l.store.Acquire(ctx, "L", "b", time.Second)
	assert.ErrorIs(t, err, api.ErrRefused)
	clk.advance(2 * time.Millisecond)
	_, err = l.store.Acquire(ctx, "L", "b", time.Second)
	assert.NoError(t, err)
}

// Over HTTP, through the client: the token, 409 for held and not holder.
func TestLockRoutes(t *testing.T) {
	clk := &manual{Env: env.OS(), now: time.Unix(1000, 0)}
	_, f := lockCluster(t, "", clk)
	ctx := context.Background()
	c := client.New(f.srv.Listener.Addr().String(), time.Second)
	defer c.Close()
	tok, err := c.Acquire(ctx, "a/b", "p1", time.Second)
	require.NoError(t, err)
	require.NotNil(t, tok)
	assert.Equal(t, "1", *tok)
	_, err = c.Acquire(ctx, "a/b", "p2", time.Second)
	assert.ErrorIs(t, err, api.ErrRefused)
	assert.ErrorIs(t, c.Release(ctx, "a/b", "p2", tok), api.ErrRefused)
	assert.NoError(t, c.Release(ctx, "a/b", "p1", tok))
}

// lock-local-lease: the leader's table, not the log. A new leader grants
// a lock the old leader's holder holds, with a token below the old one's.
func TestLockLocalLeaseBug(t *testing.T) {
	clk := &manual{Env: env.OS(), now: time.Unix(1000, 0)}
	l, f := lockCluster(t, raft.BugLockLocalLease, clk)
	ctx := context.Background()
	var tokens []uint64
	for i := range 3 {
		tok, err := f.store.Acquire(ctx, "L", "a", time.Second)
		require.NoError(t, err)
		tokens = append(tokens, tok)
		require.NoError(t, f.store.Release(ctx, "L", "a", tok), "round %d", i)
	}
	assert.Equal(t, []uint64{1, 2, 3}, tokens)
	assert.Zero(t, l.node.proposed, "nothing went through the log")
	_, err := f.store.Acquire(ctx, "L", "a", time.Second)
	require.NoError(t, err)
	_, err = l.store.Acquire(ctx, "L", "b", time.Second)
	assert.ErrorIs(t, err, api.ErrRefused, "the leader's own table still says held")

	for _, n := range []*lockNode{l, f} {
		n.node.set(func(n *fakeNode) { n.leader = "n2" })
	}
	tok, err := f.store.Acquire(ctx, "L", "b", time.Second)
	require.NoError(t, err, "the new leader knows of no holder")
	assert.Less(t, tok, uint64(4), "and its tokens start below the old leader's")
}
