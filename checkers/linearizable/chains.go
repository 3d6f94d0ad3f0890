package linearizable

import (
	"sort"

	"github.com/anishathalye/porcupine"
)

// Chains decide any key whose written values are unique — reads, writes and
// compare-and-sets, ok or info — in O(n log n), without porcupine's search.
//
// With unique values the register's history is a sequence of values, each
// put there by its one writer. A cas that took effect names its
// predecessor: it follows its expected value directly. So the values fall
// into chains, each headed by a write (or the initial value) and continued
// by the cas that consumed each value; a chain is one contiguous stretch of
// any linearization, in a fixed order: the head's writer, the reads of its
// value, the cas to the next value, its reads, and so on. Only the order of
// whole chains is free, as a write may follow any value.
//
// Which info ops took effect: an info write or cas whose value something
// required observed (an ok read or ok cas, or a required cas expecting it)
// did; the others are dropped, as pruning drops them (prepare.go): removing
// them from a linearization leaves one, since nothing required saw their
// values. Then a chain is feasible after a predecessor that ended at t iff t
// is no later than the earliest return in the chain (m) and every op returns
// no earlier than the latest invocation before its group; placing each op
// as early as possible, the chain then ends at max(t, M), M its latest
// invocation. A chain is a read/write cluster with minFinish m and maxCall M,
// and the clusters' order exists iff the zone conditions hold (zones.go).

// chainConflict is why a key is not linearizable (kinds below).
type chainConflict struct {
	kind  conflictKind
	op    int // the op that proves it (index into kh.ops), -1 if none
	other int // a second op, -1 if none
	a, b  zone
}

type conflictKind uint8

const (
	cNone      conflictKind = iota
	cUnwritten              // op observed a value nothing (that took effect) wrote
	cTwoCAS                 // op and other are cas from the same value that both took effect
	cCycle                  // op is a cas whose value no chain from a write reaches
	cEarlyOp                // op returned before other, which must precede it, was invoked
	cZones                  // a and b: chains that cannot both be placed
)

// chainsApply says whether every value the key's checked ops write is
// written once, is not the initial value and is not "" (a cas expecting ""
// may match the absent register, see matches).
func chainsApply(kh *keyHist, initial *string) bool {
	written := make(map[string]struct{}, len(kh.ops)/2)
	if initial != nil {
		written[*initial] = struct{}{}
	}
	for _, op := range kh.ops {
		in := op.Input.(*input)
		if op.Return < op.Call {
			return false
		}
		switch in.kind {
		case kWrite, kCAS:
			if in.kind == kCAS && in.from != nil && *in.from == "" {
				return false
			}
			if _, dup := written[in.to]; dup || in.to == "" {
				return false
			}
			written[in.to] = struct{}{}
		}
	}
	return true
}

// chainsCheck decides a key chainsApply accepted.
func chainsCheck(kh *keyHist, initial *string) porcupine.CheckResult {
	if c := chainsFind(kh, initial); c.kind != cNone {
		return porcupine.Illegal
	}
	return porcupine.Ok
}

// chainVals numbers a key's values: 0 is the initial value (absent or
// Options.Initial), then every written or observed value.
type chainVals struct {
	ids     map[string]int
	initial *string
}

func (cv *chainVals) id(v *string) int {
	if v == nil {
		if cv.initial == nil {
			return 0
		}
		v = &absentKey // absent when the key starts present: never written
	} else if cv.initial != nil && *v == *cv.initial {
		return 0
	}
	id, ok := cv.ids[*v]
	if !ok {
		id = len(cv.ids) + 1
		cv.ids[*v] = id
	}
	return id
}

// absentKey stands for "absent" when the initial value is present; real
// values cannot collide with it, as it is not valid UTF-8.
var absentKey = "\xff absent"

// chainGraph is a key's values and the ops that write, read and consume them.
type chainGraph struct {
	writer   []int   // value -> op index of its writer; -1 none, -2 the initial value
	reads    [][]int // value -> ok reads of it
	next     []int   // value -> the required cas expecting it, -1 none
	required []bool  // op -> took effect (ok ops, and info ops whose value was needed)
	from, to []int   // op -> expected (cas) or observed (read) value, written value; -1 none
}

func chainsFind(kh *keyHist, initial *string) chainConflict {
	g, c := buildChainGraph(kh, initial)
	if c.kind != cNone {
		return c
	}
	clusters, c := g.chains(kh, initial)
	if c.kind != cNone {
		return c
	}
	if zc, bad := orderClusters(clusters); bad {
		return chainConflict{kind: cZones, op: -1, other: -1, a: zc.a, b: zc.b}
	}
	return chainConflict{}
}

// buildChainGraph numbers the values, decides which info ops took effect and
// links each value to the cas that consumed it.
func buildChainGraph(kh *keyHist, initial *string) (*chainGraph, chainConflict) {
	cv := &chainVals{ids: make(map[string]int, len(kh.ops)), initial: initial}
	n := len(kh.ops)
	g := &chainGraph{required: make([]bool, n), from: make([]int, n), to: make([]int, n)}
	for i, op := range kh.ops {
		in, out := op.Input.(*input), op.Output.(*output)
		g.from[i], g.to[i] = -1, -1
		switch in.kind {
		case kRead:
			g.from[i] = cv.id(out.value)
		case kWrite:
			g.to[i] = cv.id(&in.to)
		case kCAS:
			g.from[i], g.to[i] = cv.id(in.from), cv.id(&in.to)
		}
		g.required[i] = out.known
	}
	nv := len(cv.ids) + 1
	g.writer, g.reads, g.next = make([]int, nv), make([][]int, nv), make([]int, nv)
	for v := range g.writer {
		g.writer[v], g.next[v] = -1, -1
	}
	g.writer[0] = -2
	needed := make([]bool, nv)
	var todo []int
	need := func(v int) {
		if !needed[v] {
			needed[v] = true
			todo = append(todo, v)
		}
	}
	for i, op := range kh.ops {
		if g.to[i] >= 0 {
			g.writer[g.to[i]] = i
		}
		if g.from[i] >= 0 && g.required[i] {
			need(g.from[i])
			if op.Input.(*input).kind == kRead {
				g.reads[g.from[i]] = append(g.reads[g.from[i]], i)
			}
		}
	}
	// A needed value's info writer took effect, and then so did the value
	// it expected, if it is a cas.
	for len(todo) > 0 {
		v := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		w := g.writer[v]
		if w < 0 {
			continue
		}
		if !g.required[w] {
			g.required[w] = true
			if g.from[w] >= 0 {
				need(g.from[w])
			}
		}
	}
	for i := range kh.ops {
		if !g.required[i] {
			continue
		}
		if f := g.from[i]; f >= 0 && g.writer[f] == -1 {
			return nil, chainConflict{kind: cUnwritten, op: i, other: -1}
		}
		if g.to[i] >= 0 && g.from[i] >= 0 { // a cas that took effect
			f := g.from[i]
			if g.next[f] >= 0 {
				return nil, chainConflict{kind: cTwoCAS, op: i, other: g.next[f]}
			}
			g.next[f] = i
		}
	}
	return g, chainConflict{}
}

// chains walks every chain from its head and returns each as a cluster, or
// the first op that cannot be placed after the ops its chain puts first.
func (g *chainGraph) chains(kh *keyHist, initial *string) ([]*cluster, chainConflict) {
	var clusters []*cluster
	placed := 0
	for v := range g.writer {
		w := g.writer[v]
		if v != 0 && (w < 0 || !g.required[w] || g.from[w] >= 0) {
			continue // not a head: the initial value and values of writes are
		}
		c, n, conflict := g.walk(kh, initial, v)
		if conflict.kind != cNone {
			return nil, conflict
		}
		placed += n
		clusters = append(clusters, c)
	}
	// Every required cas was placed in a chain unless some form a cycle.
	for i := range kh.ops {
		if g.required[i] && g.to[i] >= 0 && g.from[i] >= 0 {
			placed--
		}
	}
	if placed < 0 {
		for i := range kh.ops {
			if g.required[i] && g.from[i] >= 0 && g.to[i] >= 0 && !g.onChain(i) {
				return nil, chainConflict{kind: cCycle, op: i, other: -1}
			}
		}
	}
	return clusters, chainConflict{}
}

// onChain says whether cas i is reachable from a head (for the rare cycle).
func (g *chainGraph) onChain(i int) bool {
	seen := map[int]bool{}
	for v := g.from[i]; !seen[v]; {
		seen[v] = true
		w := g.writer[v]
		if w == -2 || (w >= 0 && g.from[w] < 0) {
			return true
		}
		if w < 0 {
			return false
		}
		v = g.from[w]
	}
	return false
}

// walk follows the chain headed by value v, checking that each group (a
// writer, then the reads of its value) can follow the groups before it, and
// returns the chain as a cluster and how many cas it placed.
func (g *chainGraph) walk(kh *keyHist, initial *string, v int) (*cluster, int, chainConflict) {
	c := &cluster{write: g.writer[v], minFinish: never, maxCall: forever, first: -1, last: -1}
	if c.write == -2 {
		c.value, c.write, c.call, c.ret, c.minFinish = initial, -1, forever, forever, forever
	} else {
		w := kh.ops[c.write]
		to := w.Input.(*input).to
		c.value, c.call, c.ret = &to, w.Call, w.Return
	}
	maxCall, maxOp := int64(forever), -1 // latest invocation before the group
	placed := 0
	add := func(i int, before int64, beforeOp int) chainConflict {
		op := kh.ops[i]
		if op.Return < before {
			return chainConflict{kind: cEarlyOp, op: i, other: beforeOp}
		}
		if op.Return < c.minFinish {
			c.minFinish, c.first = op.Return, i
		}
		if op.Call > c.maxCall {
			c.maxCall, c.last = op.Call, i
		}
		return chainConflict{}
	}
	for steps := 0; v >= 0 && steps <= len(kh.ops); steps++ {
		if w := g.writer[v]; w >= 0 {
			if cf := add(w, maxCall, maxOp); cf.kind != cNone {
				return nil, 0, cf
			}
			if kh.ops[w].Call > maxCall {
				maxCall, maxOp = kh.ops[w].Call, w
			}
			if g.from[w] >= 0 {
				placed++
			}
		}
		groupMax, groupOp := maxCall, maxOp
		for _, r := range g.reads[v] {
			if cf := add(r, maxCall, maxOp); cf.kind != cNone {
				return nil, 0, cf
			}
			if kh.ops[r].Call > groupMax {
				groupMax, groupOp = kh.ops[r].Call, r
			}
		}
		maxCall, maxOp = groupMax, groupOp
		c.reads += len(g.reads[v])
		c.values++
		if n := g.next[v]; n >= 0 {
			v = g.to[n]
		} else {
			v = -1
		}
	}
	return c, placed, chainConflict{}
}

// orderClusters says whether clusters (each a contiguous stretch of the
// linearization that may start after a predecessor ending at t iff t <=
// minFinish, and then ends at max(t, maxCall)) can be ordered, or which two
// cannot: no two forward zones overlap and no backward zone lies strictly
// inside a forward zone.
func orderClusters(clusters []*cluster) (zoneConflict, bool) {
	var fwd, bwd []zone
	for _, c := range clusters {
		if c.minFinish < c.maxCall {
			fwd = append(fwd, zone{c.minFinish, c.maxCall, c})
		} else {
			bwd = append(bwd, zone{c.maxCall, c.minFinish, c})
		}
	}
	sort.SliceStable(fwd, func(i, j int) bool { return fwd[i].lo < fwd[j].lo })
	for i := 1; i < len(fwd); i++ {
		if fwd[i].lo < fwd[i-1].hi {
			return zoneConflict{read: -1, a: fwd[i-1], b: fwd[i]}, true // both held over the overlap
		}
	}
	// Forward zones are now disjoint and sorted by both ends: only the last
	// one starting before a backward zone can contain it.
	sort.SliceStable(bwd, func(i, j int) bool { return bwd[i].hi < bwd[j].hi })
	for _, b := range bwd {
		i := sort.Search(len(fwd), func(i int) bool { return fwd[i].lo >= b.lo }) - 1
		if i >= 0 && b.hi < fwd[i].hi {
			return zoneConflict{read: -1, a: fwd[i], b: b}, true // no room outside the other's zone
		}
	}
	return zoneConflict{}, false
}
