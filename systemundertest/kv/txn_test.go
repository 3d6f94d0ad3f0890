package kv

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

func s(v string) *string { return &v }

func read(k string) api.Mop     { return api.Mop{F: api.MRead, Key: k} }
func readList(k string) api.Mop { return api.Mop{F: api.MRead, Key: k, List: []string{}} }
func write(k, v string) api.Mop { return api.Mop{F: api.MWrite, Key: k, Value: s(v)} }
func app(k, v string) api.Mop   { return api.Mop{F: api.MAppend, Key: k, Value: s(v)} }
func add(k, v string) api.Mop   { return api.Mop{F: api.MAdd, Key: k, Value: s(v)} }

func TestTxnEntryRoundTrip(t *testing.T) {
	txn := []api.Mop{app("x", "1"), readList("x"), write("y\x00z", ""), read("y"), add("a", "-3")}
	got, err := decodeTxn(EncodeTxn(txn))
	require.NoError(t, err)
	assert.Equal(t, txn, got)
	enc := EncodeTxn(txn)
	for _, bad := range [][]byte{enc[:len(enc)-1], append(enc, 0), {opTxn, 200}, {opTxn, 1, 1, 'r', 1, 'x', 9}} {
		_, err := decodeTxn(bad)
		assert.Error(t, err, "%x", bad)
	}
}

// A transaction's reads see the state at its log position plus its own
// earlier writes; its writes land together.
func TestApplyTxn(t *testing.T) {
	f := NewFSM()
	f.Apply(1, EncodePut("y", "old"))
	res := f.Apply(2, EncodeTxn([]api.Mop{readList("x"), app("x", "1"), app("x", "2"), readList("x"), read("y"), write("y", "new"), read("y"), read("nope")}))
	r, ok := res.(TxnResult)
	require.True(t, ok, "%T %v", res, res)
	assert.Empty(t, r.Refused)
	assert.Equal(t, []api.Mop{
		{F: api.MRead, Key: "x", List: []string{}}, app("x", "1"), app("x", "2"),
		{F: api.MRead, Key: "x", List: []string{"1", "2"}},
		{F: api.MRead, Key: "y", Value: s("old")}, write("y", "new"),
		{F: api.MRead, Key: "y", Value: s("new")}, read("nope"),
	}, r.Txn)
	v, _ := f.Get("y")
	assert.Equal(t, "new", v)
	assert.Equal(t, uint64(2), f.Index())
	_, found := f.Get("x")
	assert.False(t, found, "a list and a register of one name are different things")

	r = f.Apply(3, EncodeTxn([]api.Mop{app("x", "3"), readList("x")})).(TxnResult)
	assert.Equal(t, []string{"1", "2", "3"}, r.Txn[1].List)
}

func TestAddRefusesTheWholeTransaction(t *testing.T) {
	f := NewFSM()
	r := f.Apply(1, EncodeTxn([]api.Mop{write("a", "5"), write("b", "5")})).(TxnResult)
	require.Empty(t, r.Refused)
	d0, _, _, _ := f.Digest(false)
	r = f.Apply(2, EncodeTxn([]api.Mop{add("b", "6"), add("a", "-6")})).(TxnResult)
	assert.Contains(t, r.Refused, "add a -6: it holds 5, and would fall below zero")
	assert.Nil(t, r.Txn)
	a, _ := f.Get("a")
	b, _ := f.Get("b")
	assert.Equal(t, []string{"5", "5"}, []string{a, b}, "nothing of a refused transaction is applied")
	d1, _, _, _ := f.Digest(false)
	assert.NotEqual(t, d0, d1, "only the applied index moved")

	r = f.Apply(3, EncodeTxn([]api.Mop{add("a", "-5"), add("fresh", "5"), read("a"), read("fresh")})).(TxnResult)
	require.Empty(t, r.Refused)
	assert.Equal(t, "0", *r.Txn[2].Value)
	assert.Equal(t, "5", *r.Txn[3].Value, "an absent register counts as 0")
	f.Apply(4, EncodePut("s", "text"))
	r = f.Apply(5, EncodeTxn([]api.Mop{add("s", "1")})).(TxnResult)
	assert.Contains(t, r.Refused, "not an integer")
}

func TestListsSurviveSnapshots(t *testing.T) {
	f := NewFSM()
	for i, v := range []string{"1", "2", "3"} {
		f.Apply(uint64(i+1), EncodeTxn([]api.Mop{app("x", v)}))
	}
	snap, err := f.Snapshot()
	require.NoError(t, err)
	g := NewFSM()
	require.NoError(t, g.Restore(snap))
	d1, _, _, _ := f.Digest(false)
	d2, _, _, _ := g.Digest(false)
	assert.Equal(t, d1, d2)
	out, _, _ := g.ReadTxn([]api.Mop{readList("x")})
	assert.Equal(t, []string{"1", "2", "3"}, out[0].List)
}

func TestStoreTxnOnLeaderAndThroughFollower(t *testing.T) {
	l, f := cluster(t, "")
	ctx := context.Background()
	out, err := f.store.Txn(ctx, []api.Mop{app("x", "1"), write("y", "7")})
	require.NoError(t, err)
	assert.Equal(t, []api.Mop{app("x", "1"), write("y", "7")}, out)
	assert.Equal(t, 1, l.node.proposed, "the follower forwarded it; one log entry")

	out, err = f.store.Txn(ctx, []api.Mop{readList("x"), read("y"), read("z")})
	require.NoError(t, err)
	assert.Equal(t, []string{"1"}, out[0].List)
	assert.Equal(t, "7", *out[1].Value)
	assert.Nil(t, out[2].Value)
	assert.Equal(t, 1, l.node.proposed, "a read-only transaction is not in the log")
	assert.Equal(t, 1, l.node.reads, "it went through the leader's ReadIndex")

	_, err = f.store.Txn(ctx, []api.Mop{add("y", "-8")})
	var refused *api.RefusedError
	require.ErrorAs(t, err, &refused, "a refusal is relayed as one")
	assert.Contains(t, refused.Reason, "would fall below zero")
	assert.ErrorIs(t, err, api.ErrNotApplied)
	_, err = l.store.Txn(ctx, []api.Mop{add("y", "-8")})
	assert.ErrorAs(t, err, &refused)
}

func TestTxnClassification(t *testing.T) {
	ctx := context.Background()
	l, f := cluster(t, "")
	l.node.set(func(n *fakeNode) { n.err = raft.ErrUnknownOutcome })
	_, err := f.store.Txn(ctx, []api.Mop{app("x", "1")})
	assert.ErrorIs(t, err, api.ErrUnknown)
	_, err = f.store.Txn(ctx, []api.Mop{readList("x")})
	assert.ErrorIs(t, err, api.ErrNotApplied, "a failed read-only transaction changed nothing")
	l.node.set(func(n *fakeNode) { n.err = nil; n.leader = "" })
	f.node.set(func(n *fakeNode) { n.leader = "" })
	_, err = f.store.Txn(ctx, []api.Mop{app("x", "1")})
	assert.ErrorIs(t, err, api.ErrNotApplied)
	require.NoError(t, l.store.Close())
	_, err = l.store.Txn(ctx, []api.Mop{app("x", "1")})
	assert.ErrorIs(t, err, api.ErrNotApplied)
}

func TestTxnLocalReadBugReadsTheFollowersOwnState(t *testing.T) {
	l, f := cluster(t, raft.BugTxnLocalRead)
	ctx := context.Background()
	_, err := f.store.Txn(ctx, []api.Mop{app("x", "1")})
	require.NoError(t, err)
	out, err := f.store.Txn(ctx, []api.Mop{readList("x")})
	require.NoError(t, err)
	assert.Empty(t, out[0].List, "the follower's state (the fake does not replicate)")
	assert.Zero(t, l.node.reads+f.node.reads, "no ReadIndex")
}

func TestTxnKeyByKeyBugProposesEachMicroOp(t *testing.T) {
	l, f := cluster(t, raft.BugTxnKeyByKey)
	ctx := context.Background()
	out, err := f.store.Txn(ctx, []api.Mop{app("x", "1"), readList("x"), app("y", "2")})
	require.NoError(t, err)
	assert.Equal(t, []string{"1"}, out[1].List)
	assert.Equal(t, 2, l.node.proposed, "one entry per write")
	assert.Equal(t, 1, l.node.reads, "one ReadIndex per read")

	// A failure after a write leaves the transaction half applied: unknown.
	calls := 0
	l.node.set(func(n *fakeNode) {
		n.proposeHook = func() error { calls++; return errIf(calls == 2, raft.ErrNotLeader) }
	})
	_, err = l.store.Txn(ctx, []api.Mop{app("x", "3"), app("y", "4")})
	assert.ErrorIs(t, err, api.ErrUnknown)
	out, _, _ = l.node.fsm.ReadTxn([]api.Mop{readList("x"), readList("y")})
	assert.Equal(t, []string{"1", "3"}, out[0].List, "the first half is applied")
	assert.Equal(t, []string{"2"}, out[1].List, "the second is not")
}

func errIf(cond bool, err error) error {
	if cond {
		return err
	}
	return nil
}

func TestTxnBlindWriteBugProposesComputedValues(t *testing.T) {
	l, f := cluster(t, raft.BugTxnBlindWrite)
	ctx := context.Background()
	_, err := f.store.Txn(ctx, []api.Mop{write("a", "10"), app("x", "1")})
	require.NoError(t, err)
	var entries [][]api.Mop
	l.node.set(func(n *fakeNode) {
		n.proposeHook = nil
		n.onPropose = func(data []byte) {
			txn, err := decodeTxn(data)
			assert.NoError(t, err)
			entries = append(entries, txn)
		}
	})
	_, err = f.store.Txn(ctx, []api.Mop{add("a", "-3"), app("x", "2")})
	require.NoError(t, err)
	require.Len(t, entries, 1)
	for _, m := range entries[0] {
		assert.Equal(t, api.MWrite, m.F, "what was computed is written blind: %v", entries[0])
	}
	out, _, _ := l.node.fsm.ReadTxn([]api.Mop{read("a"), readList("x")})
	assert.Equal(t, "7", *out[0].Value)
	assert.Equal(t, []string{"1", "2"}, out[1].List)
	_, err = f.store.Txn(ctx, []api.Mop{add("a", "-8")})
	assert.ErrorIs(t, err, api.ErrRefused)
}

func TestTxnWriteSkewBugLocksOnlyWrittenKeys(t *testing.T) {
	l, _ := cluster(t, raft.BugTxnWriteSkew)
	ctx := context.Background()
	_, err := l.store.Txn(ctx, []api.Mop{readList("x"), app("y", "1")})
	require.NoError(t, err)
	assert.Equal(t, 1, l.node.reads, "reads come from the leader's state after ReadIndex")

	var locks keyLocks
	unlock, err := locks.lock(ctx, []string{"b", "a", "b"})
	require.NoError(t, err)
	got := make(chan struct{})
	go func() {
		u, err := locks.lock(ctx, []string{"a"})
		if err == nil {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a held key was locked twice")
	case <-time.After(20 * time.Millisecond):
	}
	other, err := locks.lock(ctx, []string{"c"})
	require.NoError(t, err, "other keys are free")
	other()
	unlock()
	<-got
	cctx, cancel := context.WithCancel(ctx)
	unlock, err = locks.lock(ctx, []string{"a"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := locks.lock(cctx, []string{"a"})
		assert.True(t, errors.Is(err, context.Canceled))
	}()
	cancel()
	wg.Wait()
	unlock()
}

func TestServerTxnEndpoint(t *testing.T) {
	l, _ := cluster(t, "")
	post := func(body string) (int, string) {
		resp, err := http.Post(l.srv.URL+"/txn", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode, string(b[:n])
	}
	code, body := post(`{"txn": [["append","x",1],["r","x",[]],["w","y","a"],["r","y",null]]}`)
	assert.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"txn": [["append","x","1"],["r","x",["1"]],["w","y","a"],["r","y","a"]]}`, body)
	code, body = post(`{"txn": [["add","y","1"]]}`)
	assert.Equal(t, http.StatusConflict, code, body)
	assert.Contains(t, body, "not an integer")
	for _, bad := range []string{`{"txn": []}`, `{"txn": [["cas","x","1"]]}`, `{"txn": [["w","x",null]]}`, `{"txn": [["r","x","5"]]}`, `{"txn": [["add","x","one"]]}`, `nope`} {
		code, body = post(bad)
		assert.Equal(t, http.StatusBadRequest, code, bad+" "+body)
	}
}
