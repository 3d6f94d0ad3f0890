package kv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// fakeNode stands in for raft: a leader applies proposals directly to its FSM.
type fakeNode struct {
	mu       sync.Mutex
	id       string
	leader   string
	fsm      *FSM
	index    uint64
	err      error // returned by Propose and ReadIndex when set
	block    bool  // Propose blocks until ctx is done, then ErrUnknownOutcome
	reads    int   // ReadIndex calls
	proposed int
	// proposeHook, if set, may refuse a proposal (its error is returned as
	// Propose's); onPropose sees each entry proposed.
	proposeHook func() error
	onPropose   func(data []byte)
}

func (n *fakeNode) Deliver(raft.Message) {}

func (n *fakeNode) Propose(ctx context.Context, data []byte) (any, error) {
	n.mu.Lock()
	if n.leader != n.id {
		n.mu.Unlock()
		return nil, raft.ErrNotLeader
	}
	if n.err != nil {
		defer n.mu.Unlock()
		return nil, n.err
	}
	if n.proposeHook != nil {
		if err := n.proposeHook(); err != nil {
			n.mu.Unlock()
			return nil, err
		}
	}
	if n.onPropose != nil {
		n.onPropose(data)
	}
	n.proposed++
	if n.block {
		n.mu.Unlock()
		<-ctx.Done()
		return nil, raft.ErrUnknownOutcome
	}
	n.index++
	idx := n.index
	n.mu.Unlock()
	return n.fsm.Apply(idx, data), nil
}

func (n *fakeNode) ReadIndex(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reads++
	if n.leader != n.id {
		return raft.ErrNotLeader
	}
	return n.err
}

func (n *fakeNode) Status() raft.Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	role := "follower"
	if n.leader == n.id {
		role = "leader"
	}
	return raft.Status{ID: n.id, Role: role, Term: 1, Leader: n.leader}
}

func (n *fakeNode) Stop() {}

func (n *fakeNode) set(f func(n *fakeNode)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(n)
}

type testNode struct {
	node  *fakeNode
	store *Store
	srv   *httptest.Server
}

// cluster starts n1 (leader) and n2 (follower), each behind a real HTTP server.
func cluster(t *testing.T, bug string) (leader, follower *testNode) {
	t.Helper()
	peers := map[string]string{}
	var nodes []*testNode
	for _, id := range []string{"n1", "n2"} {
		tn := &testNode{node: &fakeNode{id: id, leader: "n1", fsm: NewFSM()}}
		tn.srv = httptest.NewUnstartedServer(nil)
		peers[id] = tn.srv.Listener.Addr().String()
		nodes = append(nodes, tn)
	}
	for _, tn := range nodes {
		tn.store = NewStore(Config{ID: tn.node.id, Peers: peers, Node: tn.node, FSM: tn.node.fsm, Bug: bug,
			LeaderWait: 50 * time.Millisecond, ForwardTimeout: 300 * time.Millisecond})
		tn.srv.Config.Handler = api.NewServer(tn.store, api.ServerOptions{Internal: tn.store.Handler()})
		tn.srv.Start()
		t.Cleanup(func() { tn.srv.Close(); _ = tn.store.Close() })
	}
	return nodes[0], nodes[1]
}

func TestLeaderServesAndFollowerForwards(t *testing.T) {
	l, f := cluster(t, "")
	ctx := context.Background()
	require.NoError(t, l.store.Put(ctx, "a", "1"))
	require.NoError(t, f.store.Put(ctx, "a/b c", "2"))
	res, err := f.store.CAS(ctx, "a", "1", "3")
	require.NoError(t, err)
	assert.True(t, res.OK)
	res, err = f.store.CAS(ctx, "a", "1", "4")
	require.NoError(t, err)
	assert.Equal(t, api.CASResult{OK: false, Current: "3", Found: true}, res)
	res, err = f.store.CAS(ctx, "missing", "", "x")
	require.NoError(t, err)
	assert.Equal(t, api.CASResult{OK: false}, res)

	// Everything was applied on the leader only (the fake does not replicate).
	v, found, err := f.store.Get(ctx, "a/b c", false)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "2", v)
	_, found, err = f.store.Get(ctx, "a/b c", true) // stale: the follower's own state
	require.NoError(t, err)
	assert.False(t, found)
	assert.Equal(t, 1, l.node.reads, "the follower's linearizable read went through the leader's ReadIndex")
	assert.Equal(t, 0, f.node.reads)
}

func TestStaleReadBugNeverForwards(t *testing.T) {
	l, f := cluster(t, BugStaleRead)
	ctx := context.Background()
	require.NoError(t, f.store.Put(ctx, "k", "v"))
	_, found, err := f.store.Get(ctx, "k", false)
	require.NoError(t, err)
	assert.False(t, found, "stale-read serves the follower's own (empty) state")
	assert.Equal(t, 0, l.node.reads+f.node.reads)
}

func TestClassification(t *testing.T) {
	ctx := context.Background()
	t.Run("no leader known is not applied", func(t *testing.T) {
		l, f := cluster(t, "")
		l.node.set(func(n *fakeNode) { n.leader = "" })
		f.node.set(func(n *fakeNode) { n.leader = "" })
		err := f.store.Put(ctx, "k", "v")
		assert.ErrorIs(t, err, api.ErrNotApplied)
		_, _, err = f.store.Get(ctx, "k", false)
		assert.ErrorIs(t, err, api.ErrNotApplied)
	})
	t.Run("raft refusal is not applied, relayed by the follower", func(t *testing.T) {
		l, f := cluster(t, "")
		l.node.set(func(n *fakeNode) { n.err = raft.ErrStopped })
		assert.ErrorIs(t, l.store.Put(ctx, "k", "v"), api.ErrNotApplied)
		assert.ErrorIs(t, f.store.Put(ctx, "k", "v"), api.ErrNotApplied)
	})
	t.Run("unknown outcome on the leader is unknown on the follower", func(t *testing.T) {
		l, f := cluster(t, "")
		l.node.set(func(n *fakeNode) { n.err = raft.ErrUnknownOutcome })
		assert.ErrorIs(t, l.store.Put(ctx, "k", "v"), api.ErrUnknown)
		assert.ErrorIs(t, f.store.Put(ctx, "k", "v"), api.ErrUnknown)
		_, err := f.store.CAS(ctx, "k", "a", "b")
		assert.ErrorIs(t, err, api.ErrUnknown)
	})
	t.Run("forward timing out after sending is unknown", func(t *testing.T) {
		l, f := cluster(t, "")
		l.node.set(func(n *fakeNode) { n.block = true })
		start := time.Now()
		err := f.store.Put(ctx, "k", "v")
		assert.ErrorIs(t, err, api.ErrUnknown)
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.Equal(t, 1, l.node.proposed)
	})
	t.Run("forward to a dead leader before sending is not applied", func(t *testing.T) {
		l, f := cluster(t, "")
		l.srv.Close()
		assert.ErrorIs(t, f.store.Put(ctx, "k", "v"), api.ErrNotApplied)
		_, err := f.store.CAS(ctx, "k", "a", "b")
		assert.ErrorIs(t, err, api.ErrNotApplied)
	})
	t.Run("forwarded request reaching a non-leader is not applied and not forwarded again", func(t *testing.T) {
		l, f := cluster(t, "")
		// Both believe the other is the leader.
		l.node.set(func(n *fakeNode) { n.leader = "n2" })
		err := f.store.Put(ctx, "k", "v")
		assert.ErrorIs(t, err, api.ErrNotApplied)
		assert.Zero(t, l.node.proposed+f.node.proposed)
	})
	t.Run("connection reset after the request was read is unknown", func(t *testing.T) {
		// A leader address that accepts, reads the request, and hangs up.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				c.Close()
			}
		}()
		n := &fakeNode{id: "n2", leader: "n1", fsm: NewFSM()}
		s := NewStore(Config{ID: "n2", Peers: map[string]string{"n1": ln.Addr().String(), "n2": "unused:1"}, Node: n, FSM: n.fsm})
		t.Cleanup(func() { _ = s.Close() })
		err = s.Put(ctx, "k", "v")
		assert.ErrorIs(t, err, api.ErrUnknown)
		_, _, err = s.Get(ctx, "k", false)
		assert.Error(t, err)
	})
}

func TestClosedStoreRefuses(t *testing.T) {
	l, _ := cluster(t, "")
	require.NoError(t, l.store.Close())
	err := l.store.Put(context.Background(), "k", "v")
	assert.ErrorIs(t, err, api.ErrNotApplied)
	assert.True(t, errors.Is(api.Classify(err), api.ErrNotApplied))
}

func TestForwardsBatchConcurrentRequests(t *testing.T) {
	l, f := cluster(t, "")
	var batches atomic.Int64
	inner := l.srv.Config.Handler
	l.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == BatchPath {
			batches.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k%d", i)
			if errs[i] = f.store.Put(ctx, key, "a"); errs[i] != nil {
				return
			}
			var res api.CASResult
			if res, errs[i] = f.store.CAS(ctx, key, "a", "b"); errs[i] == nil && !res.OK {
				errs[i] = fmt.Errorf("cas %s failed: %+v", key, res)
			}
			if errs[i] != nil {
				return
			}
			v, found, err := f.store.Get(ctx, key, false)
			if err == nil && (!found || v != "b") {
				err = fmt.Errorf("read %s = %q, %v", key, v, found)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d requests in %d batches", 3*n, batches.Load())
	assert.Less(t, batches.Load(), int64(3*n), "concurrent requests share batches")
}

func TestForwardWithdrawnWhileQueuedIsNeverSent(t *testing.T) {
	l, f := cluster(t, "")
	l.node.set(func(n *fakeNode) { n.block = true })
	first := make(chan error, maxForwardInFlight)
	for i := range maxForwardInFlight {
		go func() { first <- f.store.Put(context.Background(), fmt.Sprint("a", i), "1") }()
		require.Eventually(t, func() bool {
			l.node.mu.Lock()
			defer l.node.mu.Unlock()
			return l.node.proposed == i+1
		}, 2*time.Second, time.Millisecond, "forward %d is in flight", i)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := f.store.Put(ctx, "b", "2") // queued behind the batches in flight, then given up
	assert.ErrorIs(t, err, api.ErrNotApplied)
	for range maxForwardInFlight {
		assert.ErrorIs(t, <-first, api.ErrUnknown)
	}
	time.Sleep(100 * time.Millisecond)
	l.node.mu.Lock()
	defer l.node.mu.Unlock()
	assert.Equal(t, maxForwardInFlight, l.node.proposed, "the withdrawn request never reached the leader")
}
