package workloads

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/counter"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

func TestCounterGenerator(t *testing.T) {
	ops, g := gen(t, "counter", Options{}, 1, 3000)
	var neg, pos, reads int
	adds := map[string]int{}
	for _, op := range ops {
		assert.Equal(t, h.KindCounter, op.Kind)
		adds[op.Key] += map[string]int{h.FAdd: 1}[op.F]
		switch op.F {
		case h.FAdd:
			d, err := strconv.Atoi(*op.Value)
			require.NoError(t, err)
			assert.True(t, d != 0 && d >= -maxDelta && d <= maxDelta, d)
			if d < 0 {
				neg++
			} else {
				pos++
			}
		case h.FRead:
			reads++
		}
	}
	assert.InDelta(t, 1500, reads, 150)
	assert.InDelta(t, 0.2, float64(neg)/float64(neg+pos), 0.05)
	assert.Greater(t, len(adds), 20, "counters rotate")
	for k, n := range adds {
		assert.LessOrEqual(t, n, counterAdds, k)
	}
	assert.Len(t, g.Keys(), len(adds))
	assert.Equal(t, h.Op{F: h.FRead, Key: "c1", Kind: h.KindCounter}, g.(h.FinalReader).FinalRead("c1"))
	assert.True(t, g.(h.EveryNodeReader).FinalReadsEveryNode())

	w, err := New("counter", Options{})
	require.NoError(t, err)
	assert.Equal(t, []h.Feature{h.FeatureCounter}, h.NeedsOf(w))
	_, err = New("counter", Options{MaxTxnLength: 3})
	assert.ErrorContains(t, err, "has no use for --max-txn-length")
}

// The generator's ops against a correct counter are valid; applying one
// add twice is caught.
func TestCounterEndToEndInMemory(t *testing.T) {
	ops, _ := gen(t, "counter", Options{}, 3, 400)
	run := func(twice int) h.Result {
		vals := map[string]int{}
		var hist h.History
		for i, op := range ops {
			op.Index, op.Type, op.Time = len(hist), h.Invoke, int64(len(hist))
			hist = append(hist, op)
			done := op
			done.Index, done.Type, done.Time = len(hist), h.OK, int64(len(hist))
			if op.F == h.FAdd {
				d, _ := strconv.Atoi(*op.Value)
				vals[op.Key] += d
				if i == twice {
					vals[op.Key] += d
				}
			} else {
				done.Value = h.Str(strconv.Itoa(vals[op.Key]))
			}
			hist = append(hist, done)
		}
		return counter.New().Check(context.Background(), h.CheckInput{History: hist})
	}
	r := run(-1)
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	i := 0
	for ops[i].F != h.FAdd {
		i++
	}
	r = run(i)
	assert.Equal(t, h.Invalid, r.Validity)
}
