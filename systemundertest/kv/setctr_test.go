package kv

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

func TestApplySetAndCounter(t *testing.T) {
	f := NewFSM()
	assert.Nil(t, f.Apply(1, EncodeSetAdd("s", "1")))
	assert.Nil(t, f.Apply(2, EncodeSetAdd("s", "2")))
	assert.Nil(t, f.Apply(3, EncodeSetAdd("s", "1")), "adding an element again changes nothing")
	assert.Equal(t, []string{"1", "2"}, f.Set("s"))
	assert.Empty(t, f.Set("none"))

	assert.Equal(t, CounterResult{Value: 5}, f.Apply(4, EncodeCounterAdd("c", 5, "a")))
	assert.Equal(t, CounterResult{Value: 2}, f.Apply(5, EncodeCounterAdd("c", -3, "b")))
	assert.Equal(t, CounterResult{Value: 2, Duplicate: true}, f.Apply(6, EncodeCounterAdd("c", 5, "a")), "an id is applied once")
	assert.Equal(t, CounterResult{Value: 9}, f.Apply(7, EncodeCounterAdd("c", 7, "")))
	assert.Equal(t, CounterResult{Value: 16}, f.Apply(8, EncodeCounterAdd("c", 7, "")), "no id: applied every time")
	assert.Equal(t, int64(16), f.Counter("c"))
	assert.Equal(t, int64(0), f.Counter("none"))
	assert.Equal(t, uint64(8), f.Index())

	// Sets, counters and registers of one name are different things.
	f.Apply(9, EncodePut("s", "x"))
	assert.Equal(t, []string{"1", "2"}, f.Set("s"))
	_, found := f.Get("c")
	assert.False(t, found)

	for _, bad := range [][]byte{{opSetAdd}, EncodeSetAdd("s", "1")[:3], append(EncodeSetAdd("s", "1"), 0),
		{opCounterAdd, 1, 'c'}, append(EncodeCounterAdd("c", 1, "x"), 0)} {
		res := f.Apply(10, bad)
		assert.Error(t, res.(error), "%x", bad)
	}
	assert.Equal(t, int64(16), f.Counter("c"), "an undecodable entry changes nothing")
}

// The applied ids are part of the replicated state: a node restored from a
// snapshot still applies each id once, and they are left out of the
// per-key digest values (bookkeeping, not data) but not of the digest.
func TestCounterIDsSurviveSnapshots(t *testing.T) {
	f := NewFSM()
	f.Apply(1, EncodeCounterAdd("c", 4, "id-1"))
	f.Apply(2, EncodeSetAdd("s", "e"))
	snap, err := f.Snapshot()
	require.NoError(t, err)
	g := NewFSM()
	require.NoError(t, g.Restore(snap))
	assert.Equal(t, CounterResult{Value: 4, Duplicate: true}, g.Apply(3, EncodeCounterAdd("c", 4, "id-1")))
	assert.Equal(t, []string{"e"}, g.Set("s"))
	assert.Equal(t, []string{"id-1"}, g.counterIDs())
	_, _, _, vals := g.Digest(true)
	assert.Len(t, vals, 2, "the set and the counter, not the id")

	h := NewFSM()
	h.Apply(1, EncodeCounterAdd("c", 4, "id-2"))
	h.Apply(2, EncodeSetAdd("s", "e"))
	df, _, _, _ := f.Digest(false)
	dh, _, _, _ := h.Digest(false)
	assert.NotEqual(t, df, dh, "the ids are in the digest")
}

func TestStoreSetAndCounterThroughFollower(t *testing.T) {
	l, f := cluster(t, "")
	ctx := context.Background()
	require.NoError(t, f.store.SetAdd(ctx, "s", "1"))
	require.NoError(t, l.store.SetAdd(ctx, "s", "2"))
	require.NoError(t, f.store.CounterAdd(ctx, "c", 3, "x"))
	require.NoError(t, f.store.CounterAdd(ctx, "c", 3, "x"), "a retry is answered ok")
	require.NoError(t, l.store.CounterAdd(ctx, "c", -1, ""))
	assert.Equal(t, 5, l.node.proposed)

	elems, err := f.store.SetRead(ctx, "s")
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "2"}, elems)
	n, err := f.store.CounterRead(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "the retried add counted once")
	assert.Equal(t, 2, l.node.reads, "the follower's reads went through the leader's ReadIndex")
	assert.Empty(t, f.node.fsm.Set("s"), "the fake does not replicate: the follower's own state is empty")

	// A read that fails changed nothing; an add that may have been
	// proposed is unknown.
	l.node.set(func(n *fakeNode) { n.err = raft.ErrUnknownOutcome })
	_, err = f.store.SetRead(ctx, "s")
	assert.ErrorIs(t, err, api.ErrNotApplied)
	_, err = f.store.CounterRead(ctx, "c")
	assert.ErrorIs(t, err, api.ErrNotApplied)
	assert.ErrorIs(t, f.store.CounterAdd(ctx, "c", 1, "y"), api.ErrUnknown)
	assert.ErrorIs(t, f.store.SetAdd(ctx, "s", "3"), api.ErrUnknown)
}

// incr-dedup-in-memory: the leader dedups in its memory and proposes adds
// without their id, so a new leader applies a retry again.
func TestIncrDedupInMemoryBug(t *testing.T) {
	l, f := cluster(t, raft.BugIncrDedupInMemory)
	ctx := context.Background()
	require.NoError(t, f.store.CounterAdd(ctx, "c", 3, "x"))
	require.NoError(t, f.store.CounterAdd(ctx, "c", 3, "x"))
	assert.Equal(t, 1, l.node.proposed, "the leader's memory caught the retry")
	assert.Empty(t, l.node.fsm.counterIDs(), "no id reached the log")

	// Leadership moves to n2 (whose state machine has the entry, as a
	// real follower's would): the retry is applied again.
	f.node.fsm.Apply(1, EncodeCounterAdd("c", 3, ""))
	f.node.set(func(n *fakeNode) { n.leader, n.index = "n2", 1 })
	l.node.set(func(n *fakeNode) { n.leader = "n2" })
	require.NoError(t, l.store.CounterAdd(ctx, "c", 3, "x"))
	n, err := f.store.CounterRead(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, int64(6), n, "applied twice")

	// The correct store, in the same steps, applies it once.
	l2, f2 := cluster(t, "")
	require.NoError(t, f2.store.CounterAdd(ctx, "c", 3, "x"))
	f2.node.fsm.Apply(1, EncodeCounterAdd("c", 3, "x"))
	f2.node.set(func(n *fakeNode) { n.leader, n.index = "n2", 1 })
	l2.node.set(func(n *fakeNode) { n.leader = "n2" })
	require.NoError(t, l2.store.CounterAdd(ctx, "c", 3, "x"))
	n, err = f2.store.CounterRead(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
}

// Over HTTP: the routes, the client, and a client retry after a lost
// answer counted once.
func TestSetCounterRoutesAndClient(t *testing.T) {
	l, f := cluster(t, "")
	ctx := context.Background()
	c := client.New(f.srv.Listener.Addr().String(), 0)
	defer c.Close()
	require.NoError(t, c.SetAdd(ctx, "a/b", "x y"))
	elems, err := c.SetRead(ctx, "a/b")
	require.NoError(t, err)
	assert.Equal(t, []string{"x y"}, elems)
	elems, err = c.SetRead(ctx, "none")
	require.NoError(t, err)
	assert.Equal(t, []string{}, elems)

	// The first try is applied but its answer lost: the client sends it
	// again with the same id, and the store does not add it twice.
	const id = "fixed-id"
	tries := 0
	l.node.set(func(n *fakeNode) {
		n.proposeHook = func() error {
			if tries++; tries == 1 {
				n.fsm.Apply(100, EncodeCounterAdd("c", 4, id))
				return raft.ErrUnknownOutcome
			}
			return nil
		}
	})
	require.NoError(t, c.CounterAddID(ctx, "c", 4, id))
	v, err := c.CounterRead(ctx, "c")
	require.NoError(t, err)
	assert.Equal(t, int64(4), v)
	assert.Equal(t, 2, tries, "one retry, proposed again and deduplicated")

	// Refusals that will not pass are not retried.
	_, err = c.CounterRead(ctx, "c")
	require.NoError(t, err)
	tries = 0
	err = client.New(f.srv.Listener.Addr().String(), 0).CounterAddID(ctx, "c", 1, "bad id with spaces")
	assert.ErrorIs(t, err, api.ErrNotApplied)
	assert.Contains(t, err.Error(), "400 Bad Request")
	assert.Equal(t, 0, tries)
}
