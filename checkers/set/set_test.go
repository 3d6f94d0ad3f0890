package set

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

func op(i int, p h.Process, t h.Type, f string, v *string) h.Op {
	return h.Op{Index: i, Process: p, Type: t, F: f, Value: v, Time: int64(i) * 1e8}
}

// hb builds a history of ops numbered in order.
type hb struct{ h h.History }

func (b *hb) add(p h.Process, t h.Type, f, key string, v *string) *hb {
	o := op(len(b.h), p, t, f, v)
	o.Key = key
	b.h = append(b.h, o)
	return b
}

func details(t *testing.T, r h.Result) Details {
	t.Helper()
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	return d
}

func check(hist h.History) h.Result {
	return New().Check(context.Background(), h.CheckInput{History: hist})
}

func TestFinalRead(t *testing.T) {
	base := h.History{
		op(0, 0, h.Invoke, "add", h.Str("1")), op(1, 0, h.OK, "add", h.Str("1")),
		op(2, 1, h.Invoke, "add", h.Str("2")), op(3, 1, h.Info, "add", h.Str("2")),
		op(4, 2, h.Invoke, "add", h.Str("3")), op(5, 2, h.Fail, "add", h.Str("3")),
		op(6, 0, h.Invoke, "read", nil),
	}
	with := func(read string) h.History {
		return append(append(h.History{}, base...), op(7, 0, h.OK, "read", h.Str(read)))
	}
	r := check(with(`["1","2"]`))
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	d := details(t, r)
	assert.Equal(t, 2, d.Stable)
	assert.Equal(t, 1, d.Recovered)
	assert.Equal(t, 1, d.Acknowledged)
	assert.Equal(t, 3, d.Attempted)

	r = check(with(`["2"]`))
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Anomalies[0].Explanation, "element 1 was known at 0.10 s (its add by process 0 was acknowledged, op 1), but no read that began after that saw it")
	assert.Equal(t, []string{"1"}, names(details(t, r).Lost))

	r = check(with(`["1","9"]`))
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Summary, "no add put there")
	assert.Contains(t, r.Anomalies[0].Explanation, "element 9, which no add ever attempted")

	r = check(with(`["1","3"]`))
	require.Equal(t, h.Invalid, r.Validity, "a failed add certainly did not happen")
	assert.Contains(t, r.Anomalies[0].Explanation, "add of 3 by process 2 failed")

	r = check(with(`["1","1"]`))
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Anomalies[0].Explanation, "returned element 1 twice")

	r = check(with(`[1, 2]`)) // numbers, as some systems write them
	assert.Equal(t, h.Valid, r.Validity, r.Summary)

	r = check(base)
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, "no successful read")
}

func names(es []Element) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Element)
	}
	return out
}

// An element seen, then missing from every later read, is lost even though
// some read saw it.
func TestSeenThenGone(t *testing.T) {
	b := &hb{}
	b.add(0, h.Invoke, "add", "s", h.Str("1")).add(0, h.OK, "add", "s", h.Str("1")).
		add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`["1"]`)).
		add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`[]`))
	b.h[5].Node = "n2"
	r := check(b.h)
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Anomalies[0].Explanation, "element 1 of set s was known at 0.10 s (its add by process 0 was acknowledged, op 1) and the read by process 1 at 0.30 s (op 3) saw it, but the later read by process 1 at 0.50 s (op 5, on n2) did not")
	assert.Len(t, r.Anomalies[0].Ops, 5)
	lost := details(t, r).Lost
	require.Len(t, lost, 1)
	assert.Equal(t, "lost", lost[0].Outcome)
	assert.Equal(t, 2, lost[0].LastPresent)
	assert.Equal(t, 4, lost[0].LastAbsent)
}

// A read that misses an element known before it began is stale; allowed,
// unless reads are linearizable; the element's visibility latency is
// measured from when it was known to just after the last read missing it.
func TestStale(t *testing.T) {
	b := &hb{}
	b.add(0, h.Invoke, "add", "s", h.Str("1")).add(0, h.OK, "add", "s", h.Str("1")). // known at 0.1 s
												add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`[]`)). // began at 0.2 s: stale
												add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`[]`)). // began at 0.4 s: stale
												add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`["1"]`))
	r := check(b.h)
	require.Equal(t, h.Valid, r.Validity, r.Summary)
	d := details(t, r)
	assert.Equal(t, 1, d.Stale)
	require.Len(t, d.Worst, 1)
	assert.Equal(t, int64(4e8+1), d.Worst[0].Stable)
	assert.Equal(t, int64(3e8+1), d.Worst[0].Latency)
	assert.Equal(t, 2, d.Worst[0].StaleReads)
	assert.Equal(t, int64(3e8+1), d.Latency["1"])
	assert.Contains(t, r.Summary, "worst visibility latency 300 ms (element 1 of set s)")

	r = Checker{Linearizable: true}.Check(context.Background(), h.CheckInput{History: b.h})
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Anomalies[0].Explanation, "the read by process 1 at 0.30 s (op 3) began after that and missed it")
}

// A read concurrent with the add may miss it; an add of unknown outcome
// becomes known only when read.
func TestConcurrentAndUnknown(t *testing.T) {
	b := &hb{}
	b.add(0, h.Invoke, "add", "s", h.Str("1")).
		add(1, h.Invoke, "read", "s", nil).
		add(0, h.OK, "add", "s", h.Str("1")).
		add(1, h.OK, "read", "s", h.Str(`[]`)). // concurrent with the add: fine
		add(2, h.Invoke, "add", "s", h.Str("2")).add(2, h.Info, "add", "s", h.Str("2")).
		add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`["1","2"]`)).
		add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`["1"]`)) // 2 was seen, then gone
	r := Checker{Linearizable: true}.Check(context.Background(), h.CheckInput{History: b.h})
	require.Equal(t, h.Invalid, r.Validity)
	d := details(t, r)
	assert.Equal(t, []string{"2"}, names(d.Lost))
	assert.Contains(t, r.Anomalies[0].Explanation, "(first read by process 1, op 7)")
	assert.Equal(t, 0, d.Stale, "the concurrent read is not stale")
}

// Sets of different keys are judged apart, and the output is the same
// whatever the order of the keys in the history.
func TestKeysAndDeterminism(t *testing.T) {
	b := &hb{}
	for _, k := range []string{"b", "a"} {
		b.add(0, h.Invoke, "add", k, h.Str("1")).add(0, h.OK, "add", k, h.Str("1")).
			add(0, h.Invoke, "add", k, h.Str("10")).add(0, h.OK, "add", k, h.Str("10")).
			add(0, h.Invoke, "add", k, h.Str("9")).add(0, h.OK, "add", k, h.Str("9"))
	}
	b.add(1, h.Invoke, "read", "a", nil).add(1, h.OK, "read", "a", h.Str(`["1","10","9"]`)).
		add(1, h.Invoke, "read", "b", nil).add(1, h.OK, "read", "b", h.Str(`["1"]`))
	r1, r2 := check(b.h), check(b.h)
	require.Equal(t, h.Invalid, r1.Validity)
	assert.Equal(t, r1, r2)
	d := details(t, r1)
	assert.Equal(t, 2, d.Keys)
	assert.Equal(t, []string{"9", "10"}, names(d.Lost), "numeric order")
	assert.Equal(t, "b", d.Lost[0].Key)
	assert.Contains(t, r1.Summary, "2 elements lost (9 in b, 10 in b)")
}

func TestBadInput(t *testing.T) {
	hist := h.History{
		op(0, 0, h.Invoke, "add", h.Str("1")), op(1, 0, h.OK, "add", h.Str("1")),
		op(2, 0, h.Invoke, "read", nil), op(3, 0, h.OK, "read", h.Str(`{"a":1}`)),
	}
	e := New().ValidateHistory(hist)
	require.NotNil(t, e)
	assert.Equal(t, 3, e.Pos)
	assert.Contains(t, e.Error(), "op 3 (0 ok read={\"a\":1}): a set read's value must be a JSON array")
	r := check(hist)
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, "op 3")

	e = New().ValidateHistory(h.History{op(0, 0, h.Invoke, "add", nil)})
	require.NotNil(t, e)
	assert.Contains(t, e.Error(), "needs the element")
	e = New().ValidateHistory(h.History{op(0, 0, h.Invoke, "write", h.Str("1"))})
	require.NotNil(t, e)
	assert.Contains(t, e.Error(), `"write" is not an operation of a set`)
	e = New().ValidateHistory(h.History{op(0, 0, h.OK, "read", h.Str(`[[1]]`))})
	require.NotNil(t, e)
	assert.Contains(t, e.Error(), "strings or numbers")

	assert.Nil(t, New().ValidateHistory(hist[:2]))
}

// On a prefix (the online check) an element the last read missed is not
// lost yet: a later read may see it, unless reads are linearizable.
func TestPrefixDoesNotCallLost(t *testing.T) {
	b := &hb{}
	b.add(0, h.Invoke, "add", "s", h.Str("1")).add(0, h.OK, "add", "s", h.Str("1")).
		add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`[]`))
	in := h.CheckInput{History: b.h, Prefix: true}
	r := New().Check(context.Background(), in)
	assert.NotEqual(t, h.Invalid, r.Validity, r.Summary)
	r = Checker{Linearizable: true}.Check(context.Background(), in)
	assert.Equal(t, h.Invalid, r.Validity, "a linearizable read that misses a known element is a violation already")
	in.Prefix = false
	assert.Equal(t, h.Invalid, New().Check(context.Background(), in).Validity, "the whole history: lost")

	b.add(1, h.Invoke, "read", "s", nil).add(1, h.OK, "read", "s", h.Str(`["1","9"]`))
	r = New().Check(context.Background(), h.CheckInput{History: b.h, Prefix: true})
	assert.Equal(t, h.Invalid, r.Validity, "an element nobody added stays unexpected")
}
