package linearizable

import (
	"math/rand"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// randomRW makes a small read/write history with unique written values on a
// coarse time grid (so that ops often touch), reads returning any written
// value or nothing, and some info writes.
func randomRW(rng *rand.Rand, clients, n int) h.History {
	var evs []ev
	free := make([]int64, clients)
	procs := make([]int, clients)
	for i := range procs {
		procs[i] = i
	}
	var written []string
	for i := 0; i < n; i++ {
		c := rng.Intn(clients)
		start := free[c] + int64(rng.Intn(3))
		end := start + int64(rng.Intn(4))
		op := h.Op{Process: h.Process(procs[c]), Key: "k"}
		typ := h.OK
		if rng.Intn(2) == 0 {
			op.F = h.FRead
		} else {
			op.F, op.Value = h.FWrite, h.Str(strconv.Itoa(i))
			written = append(written, *op.Value)
			if rng.Intn(8) == 0 {
				typ = h.Info
				procs[c] += clients
			}
		}
		inv, comp := op, op
		inv.Type, inv.Time = h.Invoke, start
		comp.Type, comp.Time = typ, end
		if op.F == h.FRead {
			inv.Value = nil
			if len(written) > 0 && rng.Intn(6) != 0 {
				comp.Value = h.Str(written[rng.Intn(len(written))])
			}
		}
		evs = append(evs, ev{inv, start, 0}, ev{comp, end, 1})
		free[c] = end + 1
	}
	return gridHistory(evs)
}

// ev is an invocation or completion on a coarse time grid.
type ev struct {
	op h.Op
	t  int64
	k  int // invoke before completion at equal times: 0, 1
}

// gridHistory orders evs by time, invocations first at equal times, and
// numbers them.
func gridHistory(evs []ev) h.History {
	sort.SliceStable(evs, func(a, b int) bool {
		if evs[a].t != evs[b].t {
			return evs[a].t < evs[b].t
		}
		return evs[a].k < evs[b].k
	})
	hist := make(h.History, len(evs))
	for i, e := range evs {
		e.op.Index = i
		hist[i] = e.op
	}
	return hist
}

func TestZonesAgreeWithPorcupine(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	m := model(nil, nil)
	counts := map[porcupine.CheckResult]int{}
	for i := 0; i < 8000; i++ {
		hh := randomRW(rng, 2+rng.Intn(4), 4+rng.Intn(14))
		var initial *string
		m := m
		if i%4 == 0 { // a register that starts at "init"
			initial = s("init")
			m = model(initial, nil)
			for j, op := range hh {
				if op.F == h.FRead && op.Type == h.OK && op.Value == nil {
					hh[j].Value = initial
				}
			}
		}
		full, _ := split(hh, Options{NoPrune: true, Initial: initial})
		rewritten, _ := split(hh, Options{Initial: initial})
		require.Len(t, full, 1)
		want := porcupine.CheckOperationsTimeout(m, full[0].ops, 10*time.Second)
		require.True(t, zonesApply(rewritten[0], initial))
		got := zonesCheck(rewritten[0], initial)
		if !assert.Equal(t, want, got, "history %d:\n%v", i, hh) {
			return
		}
		// Every violation of a read/write register gets a proof in words,
		// and no linearizable history gets one.
		e := explainKey(rewritten[0], initial, clock{})
		if !assert.Equal(t, want == porcupine.Illegal, e.found, "history %d: %q\n%v", i, e.text, hh) {
			return
		}
		counts[got]++
	}
	t.Logf("verdicts: %v", counts)
	assert.Greater(t, counts[porcupine.Ok], 1000)
	assert.Greater(t, counts[porcupine.Illegal], 1000)
}

func TestZonesApply(t *testing.T) {
	b := (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	keys, _ := split(b.h, Options{})
	assert.True(t, zonesApply(keys[0], nil))
	assert.False(t, zonesApply(keys[0], s("1")), "writes the initial value")
	b.add(2, 0, h.Invoke, h.FWrite, "k", s("1")).add(3, 0, h.OK, h.FWrite, "k", s("1"))
	keys, _ = split(b.h, Options{})
	assert.False(t, zonesApply(keys[0], nil), "a value written twice")
	c := (&hist{}).cas(0, 0, h.Invoke, "k", "1", "2").cas(1, 0, h.OK, "k", "1", "2")
	keys, _ = split(c.h, Options{})
	assert.False(t, zonesApply(keys[0], nil), "cas")
}
