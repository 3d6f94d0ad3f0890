package isolation

import (
	"errors"
	"slices"
)

// Cycles: the strongly connected components of the whole graph (every
// kind of edge) hold every cycle. Almost always there are none and the
// search is one linear pass. In each component the classes are searched
// in order of severity, each in the subgraph of the edge kinds it may use;
// the first found is the component's anomaly.

// errBudget ends a search that has visited searchBudget edges.
var errBudget = errors.New("search budget spent")

// searchBudget bounds the edges the searches for G-single and
// G-nonadjacent visit (quadratic in a large component); past it they are
// incomplete and the models they decide are unknown, never satisfied. A
// variable for tests.
var searchBudget int64 = 200_000_000

// maxCycleTxns bounds the transactions listed in one anomaly.
const maxCycleTxns = 16

type cycle struct {
	class string
	level int
	txns  []int32 // T0 → T1 → … → T0
	hops  []hop   // hops[i]: txns[i] → txns[i+1 mod n]
}

// searchCycles finds the components and each one's most severe cycle.
func (a *analysis) searchCycles() error {
	comps, err := newTarjan(a.g.n).run(a.ctx, a.g, kAll)
	if err != nil {
		return err
	}
	a.stats.sccs = len(comps)
	if len(comps) == 0 {
		return nil
	}
	local := make([]int32, a.g.n)
	for i := range local {
		local[i] = -1
	}
	a.budget = searchBudget
	for _, c := range comps {
		real := 0
		for _, v := range c {
			if int(v) < a.g.real {
				real++
			}
		}
		if real < 2 {
			continue
		}
		a.stats.largest = max(a.stats.largest, real)
		sb := induce(a.g, c, local)
		cy, uncertain, err := a.searchComponent(sb)
		if err != nil {
			return err
		}
		a.uncertain = min(a.uncertain, uncertain)
		if cy != nil {
			a.s.noteCycle(cy)
		}
	}
	return nil
}

// searchComponent returns the component's most severe cycle, and the level
// from which a class went unsearched for want of budget (lvNone if none).
func (a *analysis) searchComponent(sb *sub) (*cycle, int, error) {
	uncertain := lvNone
	cache := map[uint8][]int32{}
	comps := func(mask uint8) ([]int32, error) {
		if c, ok := cache[mask]; ok {
			return c, nil
		}
		cs, err := sb.restrict(a.ctx, mask)
		if err != nil {
			return nil, err
		}
		id := make([]int32, sb.g.n)
		for i := range id {
			id[i] = -1
		}
		for ci, c := range cs {
			for _, v := range c {
				id[v] = int32(ci)
			}
		}
		cache[mask] = id
		return id, nil
	}
	for _, cl := range classes {
		var walk []int32
		var err error
		switch {
		case cl.oneRW:
			walk, err = a.oneRW(sb, cl.mask, comps)
		case cl.nonAdj:
			walk, err = a.nonAdjacent(sb, cl.mask, comps)
		default:
			walk, err = a.plain(sb, cl.mask, comps)
		}
		if errors.Is(err, errBudget) {
			uncertain = min(uncertain, anomalyLevel[cl.name])
			continue
		}
		if err != nil {
			return nil, uncertain, err
		}
		if walk != nil {
			cy := a.classify(sb, walk, cl)
			return cy, uncertain, nil
		}
	}
	return nil, uncertain, nil
}

// plain finds a short cycle in the first component of the mask's edges:
// the shortest through each of a few of its transactions.
func (a *analysis) plain(sb *sub, mask uint8, comps func(uint8) ([]int32, error)) ([]int32, error) {
	id, err := comps(mask)
	if err != nil {
		return nil, err
	}
	c := int32(-1)
	var best []int32
	tried := 0
	for u := int32(0); u < int32(sb.g.n) && tried < 4; u++ {
		if id[u] < 0 || !sb.real[u] || c >= 0 && id[u] != c {
			continue
		}
		c = id[u]
		tried++
		// Linear in the component: not counted against the budget.
		a.unlimited = true
		walk, err := a.bfs(sb.g, sb.real, u, func(v int32) bool { return id[v] == c }, mask, nil, func(v int32, _ uint8) bool { return v == u }, true)
		a.unlimited = false
		if err != nil {
			return nil, err
		}
		if walk != nil && (best == nil || realLen(sb, walk) < realLen(sb, best)) {
			best = walk
		}
	}
	return best, nil
}

func realLen(sb *sub, walk []int32) int {
	n := 0
	for _, v := range walk[:len(walk)-1] {
		if sb.real[v] {
			n++
		}
	}
	return n
}

// rwTargets lists the transactions that u precedes by an rw edge, through
// a fan or directly, within the subgraph.
func rwTargets(sb *sub, u int32, out []rwTarget) []rwTarget {
	g := sb.g
	for e := g.off[u]; e < g.off[u+1]; e++ {
		if g.kind[e]&kRW == 0 {
			continue
		}
		v := g.to[e]
		if sb.real[v] {
			out = append(out, rwTarget{to: v, via: -1})
			continue
		}
		for f := g.off[v]; f < g.off[v+1]; f++ {
			if w := g.to[f]; sb.real[w] && w != u {
				out = append(out, rwTarget{to: w, via: v})
			}
		}
	}
	return out
}

type rwTarget struct{ to, via int32 }

// eachRW calls f with each transaction u of a component (comp: component
// ids) that has rw edges inside its component, and their targets; a walk f
// returns ends the loop.
func eachRW(sb *sub, comp []int32, f func(u int32, ts []rwTarget) ([]int32, error)) ([]int32, error) {
	var targets, inside []rwTarget
	for u := int32(0); u < int32(sb.g.n); u++ {
		if !sb.real[u] || comp[u] < 0 {
			continue
		}
		targets = rwTargets(sb, u, targets[:0])
		inside = inside[:0]
		for _, t := range targets {
			if comp[t.to] == comp[u] {
				inside = append(inside, t)
			}
		}
		if len(inside) == 0 {
			continue
		}
		if walk, err := f(u, inside); walk != nil || err != nil {
			return walk, err
		}
	}
	return nil, nil
}

// oneRW finds a cycle of one rw edge u → s and a path back from s to u
// over the mask's other kinds (G-single and its variants).
func (a *analysis) oneRW(sb *sub, base uint8, comps func(uint8) ([]int32, error)) ([]int32, error) {
	all, err := comps(base | kRW)
	if err != nil {
		return nil, err
	}
	inner, err := comps(base)
	if err != nil {
		return nil, err
	}
	// First, rw edges inside a component of the other kinds: a path back
	// certainly exists.
	walk, err := eachRW(sb, all, func(u int32, ts []rwTarget) ([]int32, error) {
		for _, t := range ts {
			if c := inner[u]; c >= 0 && inner[t.to] == c {
				back, err := a.bfs(sb.g, sb.real, t.to, func(v int32) bool { return inner[v] == c }, base, nil, func(v int32, _ uint8) bool { return v == u }, false)
				if back != nil || err != nil {
					return joinRW(u, t, back), err
				}
			}
		}
		return nil, nil
	})
	if walk != nil || err != nil {
		return walk, err
	}
	// Otherwise search back from each rw edge's tail for one of its heads.
	return eachRW(sb, all, func(u int32, ts []rwTarget) ([]int32, error) {
		c := all[u]
		isHead := func(v int32, _ uint8) bool {
			for _, t := range ts {
				if t.to == v {
					return true
				}
			}
			return false
		}
		path, err := a.bfs(sb.rev, sb.real, u, func(v int32) bool { return all[v] == c }, base, nil, isHead, false)
		if path == nil || err != nil {
			return nil, err
		}
		// path runs u ← … ← s in the reverse graph: s → … → u forward.
		slices.Reverse(path)
		for _, t := range ts {
			if t.to == path[0] {
				return joinRW(u, t, path), nil
			}
		}
		return nil, nil
	})
}

// joinRW closes u → (fan) → s with the path s → … → u.
func joinRW(u int32, t rwTarget, back []int32) []int32 {
	walk := []int32{u}
	if t.via >= 0 {
		walk = append(walk, t.via)
	}
	return append(walk, back...)
}

// nonAdjacent finds a cycle with rw edges of which no two are adjacent:
// from each rw edge u → s, a path back from s to u on which an rw edge
// never follows another, nor ends the path (it would touch u → s).
func (a *analysis) nonAdjacent(sb *sub, mask uint8, comps func(uint8) ([]int32, error)) ([]int32, error) {
	all, err := comps(mask)
	if err != nil {
		return nil, err
	}
	// State 1: the last edge was rw.
	step := func(st, k uint8) (uint8, bool) {
		switch {
		case k&kPass != 0:
			return st, true
		case k&kRW != 0:
			return 1, st == 0
		}
		return 0, true
	}
	return eachRW(sb, all, func(u int32, ts []rwTarget) ([]int32, error) {
		c := all[u]
		for _, t := range ts {
			back, err := a.bfs(sb.g, sb.real, t.to, func(v int32) bool { return all[v] == c }, mask, step, func(v int32, st uint8) bool { return v == u && st == 0 }, false)
			if back != nil || err != nil {
				return joinRW(u, t, back), err
			}
		}
		return nil, nil
	})
}

// bfs finds a shortest path from src to a node where done holds, over
// edges whose kind is in mask, through nodes where in holds. Length counts
// edges out of transactions only (virtual nodes are free): a 0-1 BFS. step,
// if set, is an automaton over edge kinds, starting in state 1; it may
// refuse an edge. cyclic asks for a path of at least one edge back to src.
// The path lists src first.
func (a *analysis) bfs(g *graph, real []bool, src int32, in func(int32) bool, mask uint8,
	step func(st, k uint8) (uint8, bool), done func(v int32, st uint8) bool, cyclic bool) ([]int32, error) {
	states := int32(1)
	start := uint8(0)
	if step != nil {
		states, start = 2, 1
	}
	if !cyclic && done(src, start) {
		return []int32{src}, nil
	}
	n := int32(g.n) * states
	if int32(len(a.prev)) < n {
		a.prev = make([]int32, n)
		a.dist = make([]int32, n)
		a.mark = make([]uint32, n)
	}
	a.stamp++
	stamp := a.stamp
	s0 := src*states + int32(start)
	a.mark[s0], a.prev[s0], a.dist[s0] = stamp, -1, 0
	dq := &a.dq
	dq.reset()
	dq.pushBack(s0)
	best, bestFrom, bestTo := int32(1<<30), int32(-1), int32(-1)
	steps := 0
	for dq.len() > 0 {
		x := dq.popFront()
		if a.dist[x] >= best {
			break
		}
		v, st := x/states, uint8(x%states)
		if steps++; steps&0xffff == 0 && a.ctx.Err() != nil {
			return nil, a.ctx.Err()
		}
		cost := int32(0)
		if real[v] {
			cost = 1
		}
		d := a.dist[x] + cost
		for e := g.off[v]; e < g.off[v+1]; e++ {
			if a.budget--; a.budget < 0 && !a.unlimited {
				return nil, errBudget
			}
			k := g.kind[e]
			if !allowed(k, mask) {
				continue
			}
			w := g.to[e]
			if !in(w) {
				continue
			}
			nst := uint8(0)
			if step != nil {
				var ok bool
				if nst, ok = step(st, k); !ok {
					continue
				}
			}
			if done(w, nst) && (!cyclic || w == src) {
				if d < best {
					best, bestFrom, bestTo = d, x, w
				}
				continue
			}
			if w == src && nst == start {
				continue
			}
			y := w*states + int32(nst)
			if a.mark[y] == stamp && a.dist[y] <= d {
				continue
			}
			a.mark[y], a.prev[y], a.dist[y] = stamp, x, d
			if cost == 0 {
				dq.pushFront(y)
			} else {
				dq.pushBack(y)
			}
		}
	}
	if bestFrom < 0 {
		return nil, nil
	}
	var path []int32
	for x := bestFrom; x >= 0; x = a.prev[x] {
		path = append(path, x/states)
	}
	slices.Reverse(path)
	return append(path, bestTo), nil
}

// deque is a ring buffer of int32.
type deque struct {
	buf        []int32
	head, size int
}

func (d *deque) reset() {
	if d.buf == nil {
		d.buf = make([]int32, 64)
	}
	d.head, d.size = 0, 0
}

func (d *deque) len() int { return d.size }

func (d *deque) grow() {
	if d.size < len(d.buf) {
		return
	}
	nb := make([]int32, len(d.buf)*2)
	for i := 0; i < d.size; i++ {
		nb[i] = d.buf[(d.head+i)%len(d.buf)]
	}
	d.buf, d.head = nb, 0
}

func (d *deque) pushBack(x int32) {
	d.grow()
	d.buf[(d.head+d.size)%len(d.buf)] = x
	d.size++
}

func (d *deque) pushFront(x int32) {
	d.grow()
	d.head = (d.head - 1 + len(d.buf)) % len(d.buf)
	d.buf[d.head] = x
	d.size++
}

func (d *deque) popFront() int32 {
	x := d.buf[d.head]
	d.head = (d.head + 1) % len(d.buf)
	d.size--
	return x
}
