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

// agreement holds a decision procedure (zones, chains) and the
// explanations against porcupine on n random one-key histories from gen; a
// quarter start at "init" (adapt rewrites them for it: reads of nothing
// read it). Porcupine judges every op as recorded, the procedure what
// pruning and bounding keep (and, if unpruned is set, every op too). Every
// violation must get a proof in words, and no linearizable history one.
type agreement struct {
	gen      func(rng *rand.Rand) h.History
	adapt    func(rng *rand.Rand, hh h.History, initial *string)
	applies  func(kh *keyHist, initial *string) bool
	decide   func(kh *keyHist, initial *string) porcupine.CheckResult
	unpruned bool
}

func (a agreement) run(t *testing.T, seed int64, n int) map[porcupine.CheckResult]int {
	rng := rand.New(rand.NewSource(seed))
	counts := map[porcupine.CheckResult]int{}
	for i := 0; i < n; i++ {
		hh := a.gen(rng)
		var initial *string
		if i%4 == 0 {
			initial = s("init")
			a.adapt(rng, hh, initial)
		}
		full, _ := split(hh, Options{NoPrune: true, Initial: initial})
		rewritten, _ := split(hh, Options{Initial: initial})
		require.Len(t, full, 1)
		want := porcupine.CheckOperationsTimeout(model(initial, nil), full[0].ops, 10*time.Second)
		require.True(t, a.applies(rewritten[0], initial))
		got := a.decide(rewritten[0], initial)
		if !assert.Equal(t, want, got, "history %d (pruned):\n%v", i, hh) {
			return counts
		}
		if a.unpruned && !assert.Equal(t, want, a.decide(full[0], initial), "history %d (unpruned):\n%v", i, hh) {
			return counts
		}
		e := explainKey(rewritten[0], initial, clock{})
		if !assert.Equal(t, want == porcupine.Illegal, e.found, "history %d: %q\n%v", i, e.text, hh) {
			return counts
		}
		counts[got]++
	}
	t.Logf("verdicts: %v", counts)
	return counts
}

// readsOfNothingReadInitial adapts a history to a register starting at initial.
func readsOfNothingReadInitial(_ *rand.Rand, hh h.History, initial *string) {
	for j, op := range hh {
		if op.F == h.FRead && op.Type == h.OK && op.Value == nil {
			hh[j].Value = initial
		}
	}
}

func TestZonesAgreeWithPorcupine(t *testing.T) {
	counts := agreement{
		gen:     func(rng *rand.Rand) h.History { return randomRW(rng, 2+rng.Intn(4), 4+rng.Intn(14)) },
		adapt:   readsOfNothingReadInitial,
		applies: zonesApply,
		decide:  zonesCheck,
	}.run(t, 1, 8000)
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
