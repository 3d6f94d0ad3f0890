package workloads

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

func gen(t *testing.T, name string, opts Options, seed int64, n int) ([]h.Op, h.Generator) {
	t.Helper()
	w, err := New(name, opts)
	require.NoError(t, err)
	g := w.Generator(rand.New(rand.NewSource(seed)))
	ops := make([]h.Op, n)
	for i := range ops {
		ops[i] = g.Next(h.Process(i % 5))
	}
	return ops, g
}

func TestNames(t *testing.T) {
	assert.Equal(t, []string{"bank", "counter", "kv", "kv-without-cas", "list-append", "lock", "register", "register-without-cas", "rw-register", "set"}, Names())
	for _, n := range Names() {
		assert.NotEmpty(t, Describe(n), n)
	}
	_, err := New("nosuch", Options{})
	assert.ErrorContains(t, err, `unknown workload "nosuch"`)
	_, err = New("kv", Options{ReadFraction: 0.9, CASFraction: 0.2})
	assert.Error(t, err)
}

func TestKVRotatesKeysWithUniqueValues(t *testing.T) {
	ops, g := gen(t, "kv", Options{Keys: 4, OpsPerKey: 50}, 1, 2000)
	perKey := map[string]int{}
	values := map[string]bool{}
	written := map[string]map[string]bool{}
	counts := map[string]int{}
	casHits := 0
	for _, op := range ops {
		perKey[op.Key]++
		counts[op.F]++
		switch op.F {
		case h.FRead:
			assert.Nil(t, op.Value)
		case h.FWrite, h.FCAS:
			require.NotNil(t, op.Value)
			assert.False(t, values[*op.Value], "value %s written twice", *op.Value)
			values[*op.Value] = true
			if op.F == h.FCAS {
				require.NotNil(t, op.From)
				if written[op.Key][*op.From] {
					casHits++
				}
			}
			if written[op.Key] == nil {
				written[op.Key] = map[string]bool{}
			}
			written[op.Key][*op.Value] = true
		}
	}
	all := map[string]bool{}
	for _, k := range g.Keys() {
		all[k] = true
	}
	partial := 0
	for k, n := range perKey {
		assert.LessOrEqual(t, n, 50, "key %s", k)
		assert.True(t, all[k], "Keys() lacks %s", k)
		if n < 50 {
			partial++
		}
	}
	assert.LessOrEqual(t, partial, 4, "only the active keys may be short of 50 ops")
	assert.GreaterOrEqual(t, len(perKey), 40)
	assert.Equal(t, counts[h.FCAS], casHits, "cas must expect a value written to its own key")
	assert.InDelta(t, 0.5, float64(counts[h.FRead])/2000, 0.05)
	assert.InDelta(t, 0.2, float64(counts[h.FCAS])/2000, 0.05)
}

func TestDeterministic(t *testing.T) {
	a, _ := gen(t, "kv", Options{}, 7, 500)
	b, _ := gen(t, "kv", Options{}, 7, 500)
	c, _ := gen(t, "kv", Options{}, 8, 500)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
}

func TestVariants(t *testing.T) {
	ops, g := gen(t, "register", Options{Keys: 9, OpsPerKey: 3}, 1, 1000)
	for _, op := range ops {
		assert.Equal(t, "r", op.Key)
	}
	assert.Equal(t, []string{"r"}, g.Keys())
	for _, name := range []string{"kv-without-cas", "register-without-cas"} {
		ops, _ := gen(t, name, Options{CASFraction: 0.4}, 1, 1000)
		for _, op := range ops {
			assert.NotEqual(t, h.FCAS, op.F, name)
		}
	}
}

// The workload's own checkers accept a history of its ops applied to an
// atomic register one at a time, and catch a stale read slipped into it.
func TestCheckersJudgeTheWorkload(t *testing.T) {
	w, err := New("kv", Options{})
	require.NoError(t, err)
	g := w.Generator(rand.New(rand.NewSource(3)))
	state := map[string]*string{}
	var hist h.History
	var stale *int
	for i := 0; i < 3000; i++ {
		p := h.Process(i % 10)
		op := g.Next(p)
		op.Process, op.Type, op.Index, op.Time = p, h.Invoke, len(hist), int64(len(hist))*1e6
		hist = append(hist, op)
		c := op
		c.Type, c.Index, c.Time = h.OK, len(hist), int64(len(hist))*1e6
		switch op.F {
		case h.FRead:
			c.Value = state[op.Key]
			if i > 2000 && stale == nil && c.Value != nil {
				j := len(hist)
				stale = &j
			}
		case h.FWrite:
			state[op.Key] = op.Value
		case h.FCAS:
			if cur := state[op.Key]; cur != nil && *cur == *op.From {
				state[op.Key] = op.Value
			} else {
				c.Type = h.Fail
			}
		}
		hist = append(hist, c)
	}
	rs := h.Check(context.Background(), w.Checkers(), h.CheckInput{History: hist}, time.Minute, nil)
	v := h.Verdict(rs)
	require.Equal(t, h.Valid, v, "%+v", rs)
	require.NotNil(t, stale)
	// Make that read return what the key held before its latest write.
	key := hist[*stale].Key
	var prev *string
	for _, op := range hist[:*stale] {
		if op.Key == key && op.Type == h.OK && op.F == h.FWrite && (hist[*stale].Value == nil || *op.Value != *hist[*stale].Value) {
			prev = op.Value
		}
	}
	if prev == nil {
		prev = h.Str("never-written")
	}
	hist[*stale].Value = prev
	rs = h.Check(context.Background(), w.Checkers(), h.CheckInput{History: hist}, time.Minute, nil)
	v = h.Verdict(rs)
	assert.Equal(t, h.Invalid, v)
	assert.Equal(t, linearizable.Name, rs[0].Checker)
	assert.Equal(t, key, rs[0].Anomalies[0].Key)
}

func TestReadFractionLeavesRoomForWrites(t *testing.T) {
	w, err := New("kv", Options{ReadFraction: 0.9})
	require.NoError(t, err)
	o := w.(*workload).opts
	assert.InDelta(t, 0.05, o.CASFraction, 1e-9, "cas takes half of what reads leave")
	w, err = New("kv", Options{})
	require.NoError(t, err)
	assert.InDelta(t, 0.2, w.(*workload).opts.CASFraction, 1e-9, "the default mix is unchanged")
}
