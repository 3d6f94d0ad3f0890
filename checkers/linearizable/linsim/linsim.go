// Package linsim generates linearizable register histories, for the
// linearizable checker's tests and the checker benchmark (internal/checkbench):
// clients run one op at a time against an atomic register per key, each op
// taking effect at a random instant within its interval. Keys rotate as the
// kv workload's do (Active keys at a time, each retired after OpsPerKey ops).
// A share of ops time out: the client records info and continues as a new
// process; the op takes effect later or never.
package linsim

import (
	"math"
	"math/rand"
	"sort"
	"strconv"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// Config shapes a history.
type Config struct {
	Clients, Active, OpsPerKey, Total int
	InfoRate                          float64 // share of ops that end info
	CASRate                           float64 // share of ops that are cas (reads are half)
	// Values > 0 draws written values from 0..Values-1 (as Jepsen's
	// cas-register tests do) instead of making them unique.
	Values int
}

const never = math.MaxInt64

// sop is one simulated op: what the client sent, when, and when (if ever) it
// took effect.
type sop struct {
	op       h.Op
	inv, ret int64
	lin      int64 // never: did not take effect
	typ      h.Type
}

// gen is the state of the clients and keys while ops are drawn.
type gen struct {
	cfg     Config
	rng     *rand.Rand
	free    []int64 // when each client is next idle
	procs   []int
	keys    []string
	count   []int
	nextKey int
	recent  map[string][]string // the last values written per key: what cas expect
	value   int
}

// Simulate returns a history of cfg.Total ops (2·Total events).
func Simulate(rng *rand.Rand, cfg Config) h.History {
	g := &gen{cfg: cfg, rng: rng, free: make([]int64, cfg.Clients), procs: make([]int, cfg.Clients),
		keys: make([]string, cfg.Active), count: make([]int, cfg.Active), recent: map[string][]string{}}
	for i := range g.procs {
		g.procs[i] = i
	}
	for i := range g.keys {
		g.keys[i] = "k" + strconv.Itoa(g.nextKey)
		g.nextKey++
	}
	ops := make([]sop, 0, cfg.Total)
	for len(ops) < cfg.Total {
		ops = append(ops, g.next())
	}
	apply(ops)
	return events(ops)
}

func (g *gen) newValue() string {
	g.value++
	if g.cfg.Values > 0 {
		g.value = g.rng.Intn(g.cfg.Values)
	}
	return strconv.Itoa(g.value)
}

// next draws the op of the client that is idle first.
func (g *gen) next() sop {
	c := 0
	for i := range g.free {
		if g.free[i] < g.free[c] {
			c = i
		}
	}
	slot := g.rng.Intn(g.cfg.Active)
	key := g.keys[slot]
	o := h.Op{Process: h.Process(g.procs[c]), Key: key}
	x := g.rng.Float64()
	switch rv := g.recent[key]; {
	case x < 0.5:
		o.F = h.FRead
	case x < 0.5+g.cfg.CASRate && len(rv) > 0:
		o.F, o.From, o.Value = h.FCAS, h.Str(rv[g.rng.Intn(len(rv))]), h.Str(g.newValue())
		g.recent[key] = append(rv, *o.Value)
	default:
		o.F, o.Value = h.FWrite, h.Str(g.newValue())
		g.recent[key] = append(rv, *o.Value)
	}
	if n := len(g.recent[key]); n > 4 {
		g.recent[key] = g.recent[key][n-4:]
	}
	if g.count[slot]++; g.count[slot] >= g.cfg.OpsPerKey {
		g.keys[slot], g.count[slot] = "k"+strconv.Itoa(g.nextKey), 0
		g.nextKey++
	}
	inv := g.free[c] + int64(g.rng.Intn(200_000))
	d := int64(500_000 + g.rng.Intn(4_500_000))
	so := sop{op: o, inv: inv, ret: inv + d, lin: inv + g.rng.Int63n(d+1), typ: h.OK}
	if g.rng.Float64() < g.cfg.InfoRate {
		so.typ = h.Info
		if g.rng.Intn(2) == 0 {
			so.lin = never
		} else {
			so.lin = inv + g.rng.Int63n(50*d)
		}
		g.procs[c] += g.cfg.Clients
	}
	g.free[c] = so.ret
	return so
}

// apply runs the ops in linearization order to learn reads' results and cas
// outcomes.
func apply(ops []sop) {
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return ops[order[a]].lin < ops[order[b]].lin })
	reg := map[string]*string{}
	for _, i := range order {
		so := &ops[i]
		if so.lin == never {
			continue
		}
		k := so.op.Key
		switch so.op.F {
		case h.FRead:
			so.op.Value = reg[k]
		case h.FWrite:
			reg[k] = so.op.Value
		case h.FCAS:
			if reg[k] != nil && *reg[k] == *so.op.From {
				reg[k] = so.op.Value
			} else if so.typ == h.OK {
				so.typ = h.Fail
			}
		}
	}
}

// events turns the ops into invocations and completions in time order.
func events(ops []sop) h.History {
	type ev struct {
		op h.Op
		t  int64
	}
	evs := make([]ev, 0, 2*len(ops))
	for _, so := range ops {
		invOp := so.op
		invOp.Type, invOp.Time = h.Invoke, so.inv
		if invOp.F == h.FRead {
			invOp.Value = nil
		}
		comp := so.op
		comp.Type, comp.Time = so.typ, so.ret
		if comp.F == h.FRead && so.typ != h.OK {
			comp.Value = nil
		}
		evs = append(evs, ev{invOp, so.inv}, ev{comp, so.ret})
	}
	sort.SliceStable(evs, func(a, b int) bool { return evs[a].t < evs[b].t })
	hist := make(h.History, len(evs))
	for i, e := range evs {
		e.op.Index = i
		hist[i] = e.op
	}
	return hist
}

// StaleRead makes an ok read in the second half of hh, of a history with
// unique values, return its key's first written value although a later write
// (invoked after the first completed) completed before the read began: a
// seeded violation. It returns the index of the changed completion, or -1.
func StaleRead(hh h.History) int {
	type written struct {
		v         string
		call, ret int
	}
	first := map[string]written{}
	overwritten := map[string]int{} // key -> completion of a write certainly after the first
	for _, p := range hh.Pairs() {
		in, c := p.Invoke, p.Completion
		if c == nil || c.Type != h.OK {
			continue
		}
		switch {
		case in.F == h.FWrite || in.F == h.FCAS:
			w, ok := first[in.Key]
			if !ok {
				first[in.Key] = written{*in.Value, in.Index, c.Index}
			} else if _, done := overwritten[in.Key]; !done && in.Index > w.ret {
				overwritten[in.Key] = c.Index
			}
		case in.F == h.FRead && in.Index > len(hh)/2:
			t, ok := overwritten[in.Key]
			if ok && t < in.Index {
				hh[c.Index].Value = h.Str(first[in.Key].v)
				return c.Index
			}
		}
	}
	return -1
}
