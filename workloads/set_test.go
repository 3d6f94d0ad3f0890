package workloads

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/set"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

func TestSetGenerator(t *testing.T) {
	ops, g := gen(t, "set", Options{}, 1, 3000)
	elems := map[string]bool{}
	adds := map[string]int{}
	reads := 0
	for _, op := range ops {
		assert.Equal(t, h.KindSet, op.Kind)
		switch op.F {
		case h.FAdd:
			require.NotNil(t, op.Value)
			assert.False(t, elems[*op.Value], "element %s added twice", *op.Value)
			elems[*op.Value] = true
			adds[op.Key]++
		case h.FRead:
			assert.Nil(t, op.Value)
			reads++
		default:
			t.Fatalf("unexpected op %s", op)
		}
	}
	assert.InDelta(t, 1500, reads, 150, "half reads by default")
	for k, n := range adds {
		assert.LessOrEqual(t, n, setElements, "set %s took too many adds", k)
	}
	assert.Greater(t, len(adds), 10, "sets rotate")
	assert.Len(t, g.Keys(), len(adds)+0, "every key used is listed")
	fr, ok := g.(h.FinalReader)
	require.True(t, ok)
	assert.Equal(t, h.Op{F: h.FRead, Key: "s3", Kind: h.KindSet}, fr.FinalRead("s3"))
	e, ok := g.(h.EveryNodeReader)
	require.True(t, ok)
	assert.True(t, e.FinalReadsEveryNode())

	w, err := New("set", Options{Keys: 5, ReadFraction: 0.1})
	require.NoError(t, err)
	assert.Equal(t, []h.Feature{h.FeatureSet}, h.NeedsOf(w))
	assert.Equal(t, Options{Keys: 5, ReadFraction: 0.1}, w.(Knobbed).Knobs())
	_, err = New("set", Options{Accounts: 3})
	assert.ErrorContains(t, err, "workload set has no use for --accounts")
}

// Stale reads count against a system that promises strict serializability.
func TestSetLinearizableWhenPromised(t *testing.T) {
	for _, c := range []struct {
		promised string
		lin      bool
	}{{"strict-serializable", true}, {"serializable", false}, {"", false}} {
		w, err := New("set", Options{Promised: c.promised})
		require.NoError(t, err)
		sc, ok := w.Checkers()[0].(set.Checker)
		require.True(t, ok)
		assert.Equal(t, c.lin, sc.Linearizable, c.promised)
	}
}

// A history the generator's ops make, run against a correct in-memory set,
// is valid; dropping one acknowledged element makes it invalid.
func TestSetEndToEndInMemory(t *testing.T) {
	ops, g := gen(t, "set", Options{}, 7, 600)
	sets := map[string][]string{}
	var hist h.History
	record := func(inv h.Op, drop string) {
		inv.Index, inv.Type, inv.Time = len(hist), h.Invoke, int64(len(hist))
		hist = append(hist, inv)
		done := inv
		done.Index, done.Type, done.Time = len(hist), h.OK, int64(len(hist))
		switch inv.F {
		case h.FAdd:
			if *inv.Value != drop {
				sets[inv.Key] = append(sets[inv.Key], *inv.Value)
			}
		case h.FRead:
			done.Value = h.Str(jsonList(sets[inv.Key]))
		}
		hist = append(hist, done)
	}
	for _, op := range ops {
		record(op, "")
	}
	for _, k := range g.Keys() {
		record(g.(h.FinalReader).FinalRead(k), "")
	}
	r := set.New().Check(context.Background(), h.CheckInput{History: hist})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)

	sets, hist = map[string][]string{}, nil
	for _, op := range ops {
		record(op, "17")
	}
	for _, k := range g.Keys() {
		record(g.(h.FinalReader).FinalRead(k), "")
	}
	r = set.New().Check(context.Background(), h.CheckInput{History: hist})
	assert.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Summary, "1 elements lost (17 in s")
}

func jsonList(xs []string) string {
	s := "["
	for i, x := range xs {
		if i > 0 {
			s += ","
		}
		s += strconv.Quote(x)
	}
	return s + "]"
}
