package workloads

import (
	"context"
	"math/rand"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

func TestListAppendTransactions(t *testing.T) {
	ops, g := gen(t, "list-append", Options{Keys: 5, MinTxnLength: 2, MaxTxnLength: 5, MaxWritesPerKey: 10}, 1, 3000)
	written := map[string]int{}
	values := map[string]bool{}
	lengths := map[int]int{}
	reads, mops := 0, 0
	perSlot := map[string]int{}
	for _, op := range ops {
		require.Equal(t, h.FTxn, op.F)
		assert.Empty(t, op.Key)
		lengths[len(op.Txn)]++
		for _, m := range op.Txn {
			mops++
			perSlot[m.Key]++
			switch m.F {
			case h.MRead:
				reads++
				assert.NotNil(t, m.List, "a list read asks for a list")
				assert.Empty(t, m.List)
				assert.Nil(t, m.Value)
			case h.MAppend:
				require.NotNil(t, m.Value)
				assert.False(t, values[*m.Value], "value %s appended twice", *m.Value)
				values[*m.Value] = true
				written[m.Key]++
			default:
				t.Fatalf("unexpected micro-op %s", m)
			}
		}
	}
	for n := range lengths {
		assert.True(t, n >= 2 && n <= 5, "length %d", n)
	}
	assert.Len(t, lengths, 4, "every length from min to max occurs")
	for k, n := range written {
		assert.LessOrEqual(t, n, 10, "key %s written more than max-writes-per-key", k)
	}
	assert.Greater(t, len(g.Keys()), 100, "keys rotate")
	assert.Len(t, g.Keys(), len(map[string]bool(setOf(g.Keys()))), "Keys() lists each once")
	assert.InDelta(t, 0.5, float64(reads)/float64(mops), 0.03)

	final := g.(h.FinalReader).FinalRead("7")
	assert.Equal(t, h.Op{F: h.FTxn, Txn: []h.Mop{{F: h.MRead, Key: "7", List: []string{}}}}, final)
}

func setOf(ks []string) map[string]bool {
	m := map[string]bool{}
	for _, k := range ks {
		m[k] = true
	}
	return m
}

func TestRWRegisterTransactions(t *testing.T) {
	ops, _ := gen(t, "rw-register", Options{ReadFraction: 0.25}, 2, 2000)
	values := map[string]bool{}
	reads, mops := 0, 0
	for _, op := range ops {
		assert.True(t, len(op.Txn) >= defaultMinTxnLength && len(op.Txn) <= defaultMaxTxnLength)
		for _, m := range op.Txn {
			mops++
			switch m.F {
			case h.MRead:
				reads++
				assert.Nil(t, m.List, "a register read asks for a value")
			case h.MWrite:
				assert.False(t, values[*m.Value], "value written twice")
				values[*m.Value] = true
			default:
				t.Fatalf("unexpected micro-op %s", m)
			}
		}
	}
	assert.InDelta(t, 0.25, float64(reads)/float64(mops), 0.03)
}

func TestHotKeysFirst(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	counts := make([]int, 10)
	for range 100000 {
		counts[exponential(rng, 10)]++
	}
	for i := 1; i < 6; i++ {
		assert.InDelta(t, 0.5, float64(counts[i])/float64(counts[i-1]), 0.05, "key %d is half as likely as key %d", i, i-1)
	}
	assert.Positive(t, counts[9])
	assert.Equal(t, 0, exponential(rng, 1))
}

func TestTxnWorkloadsDeclareNeedsCheckersAndModel(t *testing.T) {
	for name, want := range map[string]h.Feature{"list-append": h.FeatureTxnAppend, "rw-register": h.FeatureTxnRW, "bank": h.FeatureTxnAdd} {
		w, err := New(name, Options{})
		require.NoError(t, err)
		assert.Equal(t, []h.Feature{want}, h.NeedsOf(w), name)
		var names []string
		for _, c := range w.Checkers() {
			names = append(names, c.Name())
		}
		if name == "bank" {
			assert.Equal(t, []string{"bank", "stats"}, names)
		} else {
			assert.Equal(t, []string{"isolation", "stats"}, names)
		}
	}
	w, err := New("list-append", Options{})
	require.NoError(t, err)
	assert.Equal(t, isolation.StrictSerializable, w.(*txnWorkload).Consistency(), "Elle's default")
	w, err = New("list-append", Options{Promised: isolation.Serializable})
	require.NoError(t, err)
	assert.Equal(t, isolation.Serializable, w.(*txnWorkload).Consistency(), "the system's promise")
	w, err = New("rw-register", Options{Promised: isolation.Serializable, Consistency: isolation.SnapshotIsolation})
	require.NoError(t, err)
	assert.Equal(t, isolation.SnapshotIsolation, w.(*txnWorkload).Consistency(), "the test's choice wins")
}

func TestKnobsAWorkloadDoesNotUseAreRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"kv", Options{Consistency: "serializable"}, "workload kv has no use for --consistency"},
		{"register", Options{MaxWritesPerKey: 3}, "workload register has no use for --max-writes-per-key"},
		{"bank", Options{MaxTxnLength: 3}, "workload bank has no use for --max-txn-length"},
		{"list-append", Options{Accounts: 3}, "workload list-append has no use for --accounts"},
		{"list-append", Options{Consistency: "linearizable"}, `consistency model "linearizable" is not one`},
		{"rw-register", Options{MinTxnLength: 5, MaxTxnLength: 2}, "--min-txn-length 5 exceeds --max-txn-length 2"},
		{"bank", Options{Accounts: 1}, "--accounts must be at least 2"},
	} {
		_, err := New(c.name, c.o)
		assert.ErrorContains(t, err, c.want, c.name)
	}
	_, err := New("kv", Options{Keys: 3, Promised: "serializable"})
	assert.NoError(t, err, "a system's promise is no knob: kv runs on a system that makes one")
	w, err := New("list-append", Options{MinTxnLength: 6})
	require.NoError(t, err)
	assert.Equal(t, 6, w.(*txnWorkload).opts.MaxTxnLength, "a min above the default max raises the max")
}

func TestBankOpensThenTransfersAndReads(t *testing.T) {
	w, err := New("bank", Options{Accounts: 4})
	require.NoError(t, err)
	g := w.Generator(rand.New(rand.NewSource(5)))
	obs := g.(h.Observer)
	open := g.Next(0)
	require.Len(t, open.Txn, 4)
	for i, m := range open.Txn {
		assert.Equal(t, h.MWrite, m.F)
		assert.Equal(t, "a"+string(rune('0'+i)), m.Key)
		assert.Equal(t, "10", *m.Value)
	}
	// Until an opening transaction is acknowledged, every op opens.
	obs.Observe(open.Complete(h.Info))
	obs.Observe(open.Complete(h.Fail))
	assert.Equal(t, open, g.Next(1))
	read := h.Op{F: h.FTxn, Txn: []h.Mop{{F: h.MRead, Key: "a0"}, {F: h.MRead, Key: "a1"}}}
	obs.Observe(read.Complete(h.OK))
	assert.Equal(t, open, g.Next(1), "an ok read does not open the bank")
	obs.Observe(open.Complete(h.OK))

	transfers, reads := 0, 0
	for range 2000 {
		op := g.Next(2)
		switch op.Txn[0].F {
		case h.MAdd:
			transfers++
			require.Len(t, op.Txn, 2)
			from, to := op.Txn[0], op.Txn[1]
			assert.NotEqual(t, from.Key, to.Key)
			assert.Equal(t, "-"+*to.Value, *from.Value, "one amount moves")
			assert.Contains(t, []string{"1", "2", "3", "4", "5"}, *to.Value)
		case h.MRead:
			reads++
			assert.Len(t, op.Txn, 4, "a read reads every account")
		default:
			t.Fatalf("unexpected %s", op)
		}
	}
	assert.InDelta(t, 1000, reads, 100)
	assert.Equal(t, []string{"a0", "a1", "a2", "a3"}, g.Keys())
	assert.Len(t, g.(h.FinalReader).FinalRead("a2").Txn, 4)
}

// serial runs the workload's transactions one at a time against a map, as
// a correct store would, and returns the history.
func serial(t *testing.T, name string, n int, apply func(op h.Op, state map[string][]string) h.Op) h.History {
	t.Helper()
	w, err := New(name, Options{})
	require.NoError(t, err)
	g := w.Generator(rand.New(rand.NewSource(9)))
	state := map[string][]string{}
	var hist h.History
	for i := range n {
		p := h.Process(i % 10)
		op := g.Next(p)
		op.Process, op.Type, op.Index, op.Time = p, h.Invoke, len(hist), int64(len(hist))*1e6
		hist = append(hist, op)
		c := apply(op, state)
		c.Index, c.Time = len(hist), int64(len(hist))*1e6
		hist = append(hist, c)
		if o, ok := g.(h.Observer); ok {
			o.Observe(c)
		}
	}
	return hist
}

func applyList(op h.Op, state map[string][]string) h.Op {
	c := op.Complete(h.OK)
	for i, m := range c.Txn {
		switch m.F {
		case h.MAppend:
			state[m.Key] = append(state[m.Key], *m.Value)
		case h.MRead:
			c.Txn[i].List = append([]string{}, state[m.Key]...)
		}
	}
	return c
}

// The workload's own checkers accept its transactions applied one at a
// time, and catch a read that missed an append completed before it.
func TestTxnCheckersJudgeTheWorkload(t *testing.T) {
	w, err := New("list-append", Options{})
	require.NoError(t, err)
	hist := serial(t, "list-append", 2000, applyList)
	rs := h.Check(context.Background(), w.Checkers(), h.CheckInput{History: hist}, time.Minute, nil)
	require.Equal(t, h.Valid, h.Verdict(rs), "%+v", rs)

	// Drop the last element of a late read whose list has at least two.
	for i := len(hist) - 1; i > 1000; i-- {
		done := false
		for j, m := range hist[i].Txn {
			if hist[i].Type == h.OK && m.IsListRead() && len(m.List) >= 2 {
				hist[i].Txn[j].List = m.List[:len(m.List)-1]
				done = true
				break
			}
		}
		if done {
			break
		}
	}
	rs = h.Check(context.Background(), w.Checkers(), h.CheckInput{History: hist}, time.Minute, nil)
	assert.Equal(t, h.Invalid, h.Verdict(rs), "%+v", rs)
}

func TestBankCheckersJudgeTheWorkload(t *testing.T) {
	w, err := New("bank", Options{})
	require.NoError(t, err)
	apply := func(op h.Op, state map[string][]string) h.Op {
		c := op.Complete(h.OK)
		bal := func(k string) int {
			if v := state[k]; len(v) > 0 {
				n, _ := strconv.Atoi(v[0])
				return n
			}
			return 0
		}
		for _, m := range c.Txn {
			if m.F == h.MAdd {
				d, _ := strconv.Atoi(*m.Value)
				if bal(m.Key)+d < 0 {
					return op.Complete(h.Fail)
				}
			}
		}
		for i, m := range c.Txn {
			switch m.F {
			case h.MWrite:
				state[m.Key] = []string{*m.Value}
			case h.MAdd:
				d, _ := strconv.Atoi(*m.Value)
				state[m.Key] = []string{strconv.Itoa(bal(m.Key) + d)}
			case h.MRead:
				c.Txn[i].Value = h.Str(strconv.Itoa(bal(m.Key)))
			}
		}
		return c
	}
	hist := serial(t, "bank", 2000, apply)
	rs := h.Check(context.Background(), w.Checkers(), h.CheckInput{History: hist}, time.Minute, nil)
	require.Equal(t, h.Valid, h.Verdict(rs), "%+v", rs)
	fails := 0
	for _, op := range hist {
		if op.Type == h.Fail {
			fails++
		}
	}
	assert.Positive(t, fails, "some transfers overdraw and are refused")
	// A transfer whose second half is lost creates a wrong total.
	for i := len(hist) - 1; i > 0; i-- {
		if hist[i].Type == h.OK && hist[i].Txn[0].F == h.MRead {
			v, _ := strconv.Atoi(*hist[i].Txn[0].Value)
			hist[i].Txn[0].Value = h.Str(strconv.Itoa(v + 3))
			break
		}
	}
	rs = h.Check(context.Background(), w.Checkers(), h.CheckInput{History: hist}, time.Minute, nil)
	assert.Equal(t, h.Invalid, h.Verdict(rs), "%+v", rs)
}
