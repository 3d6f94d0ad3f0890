package txnplan

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func rd(k string) harness.Mop     { return harness.Mop{F: harness.MRead, Key: k} }
func rdList(k string) harness.Mop { return harness.Mop{F: harness.MRead, Key: k, List: []string{}} }
func w(k, v string) harness.Mop   { return harness.Mop{F: harness.MWrite, Key: k, Value: harness.Str(v)} }
func app(k, v string) harness.Mop {
	return harness.Mop{F: harness.MAppend, Key: k, Value: harness.Str(v)}
}
func add(k string, d int) harness.Mop {
	return harness.Mop{F: harness.MAdd, Key: k, Value: harness.Str(strconv.Itoa(d))}
}

func TestPlanReads(t *testing.T) {
	p, err := New([]harness.Mop{w("x", "1"), rd("x"), rd("y"), app("z", "2"), rdList("z"), add("a", 1), rd("y")})
	require.NoError(t, err)
	assert.Equal(t, []Slot{{"y", false}, {"z", true}, {"a", false}}, p.Reads,
		"a blind write is not read, nor a key read after it; each slot once")
	assert.False(t, p.ReadOnly())

	p, err = New([]harness.Mop{rd("x"), rdList("x")})
	require.NoError(t, err)
	assert.Equal(t, []Slot{{"x", false}, {"x", true}}, p.Reads, "a list and a register of one name are two slots")
	assert.True(t, p.ReadOnly())
	assert.Equal(t, "list/x", Slot{"x", true}.Name())
	assert.Equal(t, "x", Slot{"x", false}.Name())

	for _, bad := range [][]harness.Mop{
		nil,
		{{F: "incr", Key: "x"}},
		{{F: harness.MWrite, Key: "x"}},
		{{F: harness.MAppend, Key: "x"}},
		{add("x", 1), {F: harness.MAdd, Key: "y", Value: harness.Str("lots")}},
	} {
		_, err := New(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestExec(t *testing.T) {
	p, err := New([]harness.Mop{rdList("l"), app("l", "3"), rdList("l"), rd("x"), w("x", "7"), rd("x"), rdList("new")})
	require.NoError(t, err)
	r, err := p.Exec(map[Slot]Stored{
		{"l", true}:   {Value: `["1","2"]`, Exists: true},
		{"x", false}:  {Value: "5", Exists: true},
		{"new", true}: {},
	})
	require.NoError(t, err)
	assert.Empty(t, r.Refused)
	assert.Equal(t, []string{"1", "2"}, r.Txn[0].List)
	assert.Equal(t, []string{"1", "2", "3"}, r.Txn[2].List, "a read sees the transaction's own earlier append")
	assert.Equal(t, "5", *r.Txn[3].Value)
	assert.Equal(t, "7", *r.Txn[5].Value, "and its own earlier write")
	assert.NotNil(t, r.Txn[6].List, "an absent list reads as empty, not nil")
	assert.Empty(t, r.Txn[6].List)
	assert.Equal(t, map[Slot]string{{"l", true}: `["1","2","3"]`, {"x", false}: "7"}, r.Writes)

	p, err = New([]harness.Mop{rd("absent")})
	require.NoError(t, err)
	r, err = p.Exec(map[Slot]Stored{{"absent", false}: {}})
	require.NoError(t, err)
	assert.Nil(t, r.Txn[0].Value)

	// Bank: an overdraw refuses the whole; a non-integer too.
	p, err = New([]harness.Mop{add("a", -3), add("b", 3)})
	require.NoError(t, err)
	r, err = p.Exec(map[Slot]Stored{{"a", false}: {Value: "5", Exists: true}, {"b", false}: {}})
	require.NoError(t, err)
	assert.Empty(t, r.Refused)
	assert.Equal(t, map[Slot]string{{"a", false}: "2", {"b", false}: "3"}, r.Writes, "absent counts as 0")
	r, err = p.Exec(map[Slot]Stored{{"a", false}: {Value: "2", Exists: true}, {"b", false}: {}})
	require.NoError(t, err)
	assert.Contains(t, r.Refused, "would fall below zero")
	r, err = p.Exec(map[Slot]Stored{{"a", false}: {Value: "x", Exists: true}, {"b", false}: {}})
	require.NoError(t, err)
	assert.Contains(t, r.Refused, "not an integer")

	// A list slot that does not hold a list, or a snapshot missing a slot.
	p, err = New([]harness.Mop{app("l", "1")})
	require.NoError(t, err)
	_, err = p.Exec(map[Slot]Stored{{"l", true}: {Value: "oops", Exists: true}})
	assert.ErrorContains(t, err, "not a list")
	_, err = p.Exec(map[Slot]Stored{})
	assert.ErrorContains(t, err, "lacks")
}

// memStore is a linearizable in-memory store with versions, and knobs to
// make its calls fail.
type memStore struct {
	mu         sync.Mutex
	data       map[Slot]Stored
	version    uint64
	readErr    error
	commitErr  error
	notApplied bool
	commits    int
	conflicts  int // the next n commits lose their race
}

func newMem() *memStore { return &memStore{data: map[Slot]Stored{}} }

func (m *memStore) Read(_ context.Context, slots []Slot) (map[Slot]Stored, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readErr != nil {
		return nil, m.readErr
	}
	out := map[Slot]Stored{}
	for _, s := range slots {
		out[s] = m.data[s]
	}
	return out, nil
}

func (m *memStore) Commit(_ context.Context, read map[Slot]Stored, writes map[Slot]string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commits++
	if m.commitErr != nil {
		return false, m.commitErr
	}
	if m.conflicts > 0 {
		m.conflicts--
		return false, nil
	}
	for s, st := range read {
		if m.data[s].Version != st.Version {
			return false, nil
		}
	}
	m.version++
	for s, v := range writes {
		m.data[s] = Stored{Value: v, Exists: true, Version: m.version}
	}
	return true, nil
}

func (m *memStore) NotApplied(error) bool { return m.notApplied }

func txnOp(mops ...harness.Mop) harness.Op {
	return harness.Op{Type: harness.Invoke, F: harness.FTxn, Txn: mops}
}

func TestRunOutcomes(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	done := Run(ctx, m, txnOp(app("l", "1"), rdList("l")), "")
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, []string{"1"}, done.Txn[1].List)

	done = Run(ctx, m, txnOp(rdList("l")), "stale by design")
	require.Equal(t, harness.OK, done.Type)
	assert.Equal(t, "stale by design", done.Error, "a read-only transaction carries the read mode's note")
	assert.Equal(t, 1, m.commits, "a read-only transaction commits nothing")

	m.conflicts = 2
	done = Run(ctx, m, txnOp(app("l", "2")), "")
	require.Equal(t, harness.OK, done.Type, "lost races are retried")
	assert.Equal(t, 4, m.commits)
	assert.Empty(t, done.Error)

	m.conflicts = MaxAttempts
	done = Run(ctx, m, txnOp(app("l", "3")), "")
	assert.Equal(t, harness.Fail, done.Type, "every race lost: nothing written")
	assert.Contains(t, done.Error, "gave up")

	m.readErr = errors.New("connection refused")
	done = Run(ctx, m, txnOp(app("l", "4")), "")
	assert.Equal(t, harness.Fail, done.Type)
	m.readErr = nil

	m.commitErr, m.notApplied = errors.New("timed out"), false
	before := m.commits
	done = Run(ctx, m, txnOp(app("l", "5")), "")
	assert.Equal(t, harness.Info, done.Type, "a commit sent and unanswered may apply")
	assert.Equal(t, before+1, m.commits, "and is never retried")

	m.notApplied = true
	done = Run(ctx, m, txnOp(app("l", "6")), "")
	assert.Equal(t, harness.Fail, done.Type)

	done = Run(ctx, m, txnOp(add("a", -1)), "")
	assert.Equal(t, harness.Fail, done.Type)
	assert.Contains(t, done.Error, "below zero")

	done = Run(ctx, m, txnOp(harness.Mop{F: "incr", Key: "x"}), "")
	assert.Equal(t, harness.Fail, done.Type)
	assert.Contains(t, done.Error, "unknown function")
}

// TestRunConcurrentTransfers: transfers racing on a few accounts through
// the method keep the total, and every read sees it.
func TestRunConcurrentTransfers(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	accounts := []string{"a0", "a1", "a2"}
	var open []harness.Mop
	for _, a := range accounts {
		open = append(open, w(a, "10"))
	}
	require.Equal(t, harness.OK, Run(ctx, m, txnOp(open...), "").Type)
	var wg sync.WaitGroup
	var badMu sync.Mutex
	var bad []string
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				from, to := accounts[(g+i)%3], accounts[(g+i+1)%3]
				Run(ctx, m, txnOp(add(from, -(1+i%4)), add(to, 1+i%4)), "")
				var reads []harness.Mop
				for _, a := range accounts {
					reads = append(reads, rd(a))
				}
				r := Run(ctx, m, txnOp(reads...), "")
				if r.Type != harness.OK {
					continue
				}
				sum := 0
				for _, mo := range r.Txn {
					n, _ := strconv.Atoi(*mo.Value)
					sum += n
				}
				if sum != 30 {
					badMu.Lock()
					bad = append(bad, harness.TxnString(r.Txn))
					badMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, bad, "every read sums to the total")
}

func TestListEncoding(t *testing.T) {
	assert.Equal(t, `["1","x y"]`, EncodeList([]string{"1", "x y"}))
	l, err := DecodeList(`["1","x y"]`)
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "x y"}, l)
	_, err = DecodeList("1,2")
	assert.Error(t, err)
}

// TestUpdate: concurrent read-modify-writes of one slot lose no update;
// the outcomes are classified as Run's.
func TestUpdate(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	s := Slot{Key: "counter/c"}
	incr := func(st Stored) (string, error) {
		n := 0
		if st.Exists {
			var err error
			if n, err = strconv.Atoi(st.Value); err != nil {
				return "", err
			}
		}
		return strconv.Itoa(n + 1), nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	oks := 0
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				if typ, _ := Update(ctx, m, s, incr); typ == harness.OK {
					mu.Lock()
					oks++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, strconv.Itoa(oks), m.data[s].Value, "every acknowledged update counted once")

	m.data[s] = Stored{Value: "x", Exists: true, Version: 99}
	typ, why := Update(ctx, m, s, incr)
	assert.Equal(t, harness.Fail, typ)
	assert.Contains(t, why, "refused")

	m.data[s] = Stored{Value: "1", Exists: true, Version: 99}
	m.commitErr = errors.New("EOF")
	before := m.commits
	typ, _ = Update(ctx, m, s, incr)
	assert.Equal(t, harness.Info, typ)
	assert.Equal(t, before+1, m.commits, "an unknown commit is never retried")
	m.notApplied = true
	typ, _ = Update(ctx, m, s, incr)
	assert.Equal(t, harness.Fail, typ)
	m.commitErr, m.notApplied = nil, false

	m.conflicts = MaxAttempts
	typ, why = Update(ctx, m, s, incr)
	assert.Equal(t, harness.Fail, typ)
	assert.Contains(t, why, "gave up")
}

func TestSortedAndInt(t *testing.T) {
	m := map[Slot]string{{"b", false}: "", {"a", true}: "", {"a", false}: ""}
	assert.Equal(t, []Slot{{"a", false}, {"b", false}, {"a", true}}, Sorted(m), "by name: a, b, list/a")
	n, err := Int(Stored{})
	assert.NoError(t, err)
	assert.Zero(t, n, "absent counts as 0")
	n, err = Int(Stored{Value: "-4", Exists: true})
	assert.NoError(t, err)
	assert.Equal(t, int64(-4), n)
	_, err = Int(Stored{Value: "x", Exists: true})
	assert.ErrorContains(t, err, "not an integer")
}

func TestCounter(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	s := Slot{Key: "counter/c"}
	op := func(f string, v *string) harness.Op {
		return harness.Op{Type: harness.Invoke, F: f, Key: "c", Kind: harness.KindCounter, Value: v}
	}
	r := Counter(ctx, m, op(harness.FRead, nil), s, "")
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.Equal(t, "0", *r.Value, "absent reads 0")
	for _, d := range []string{"5", "-7", "3"} {
		a := Counter(ctx, m, op(harness.FAdd, harness.Str(d)), s, "")
		require.Equal(t, harness.OK, a.Type, a.Error)
	}
	r = Counter(ctx, m, op(harness.FRead, nil), s, "may be stale")
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.Equal(t, "1", *r.Value, "counters go below zero: 5-7+3")
	assert.Equal(t, "may be stale", r.Error)
	assert.Equal(t, harness.Fail, Counter(ctx, m, op(harness.FAdd, harness.Str("x")), s, "").Type)
	assert.Equal(t, harness.Fail, Counter(ctx, m, op(harness.FAdd, nil), s, "").Type)
}
