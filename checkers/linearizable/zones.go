package linearizable

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Zones decide long read/write histories with unique values in O(n log n),
// where porcupine's search, whose every step costs time linear in the
// history, would run out of time on a single busy register.
//
// Group each write with the reads that returned its value (a cluster; the
// initial value is a write at -∞). A cluster's value must be in the register
// from its write's linearization point, which is no later than the earliest
// completion in the cluster, to its last read's point, which is no earlier
// than the latest invocation. If that earliest completion comes before that
// latest invocation, the value is held over the whole forward zone between
// them. Otherwise (a backward zone) every op of the cluster is concurrent
// with a common instant, where the cluster can be placed at once. The
// history is linearizable if and only if no read completed before its write
// was invoked, no two forward zones overlap, and no backward zone lies
// strictly inside a forward zone (Gibbons and Korach, "Testing shared
// memories", 1997; Anderson et al., HotDep 2010). Intervals are closed, as
// porcupine's are: ops that touch are concurrent, so only strict overlaps
// conflict. Tests hold this against porcupine on random histories.

type cluster struct {
	value              *string // nil: absent
	write              int     // op index of the write, -1 for the initial value
	call, ret          int64   // the write's interval (forever for the initial value)
	minFinish, maxCall int64
	first, last        int // op indices of the earliest completion and the latest invocation (-1: the initial write)
	reads              int
	values             int // chains: how many values the chain holds
}

type zone struct {
	lo, hi int64
	c      *cluster
}

// zoneConflict is why a key is not linearizable: a read of a value never
// written or read before its write began (read >= 0), or two zones that
// cannot both hold (a forward; b forward and overlapping, or backward and
// inside a).
type zoneConflict struct {
	read int
	a, b zone
}

// zonesApply says whether the key's checked ops are reads and writes only,
// each value written at most once and never the initial value.
func zonesApply(kh *keyHist, initial *string) bool {
	written := map[string]bool{}
	if initial != nil {
		written[*initial] = true
	}
	for _, op := range kh.ops {
		in := op.Input.(*input)
		switch in.kind {
		case kCAS:
			return false
		case kWrite:
			if written[in.to] {
				return false
			}
			written[in.to] = true
		}
	}
	return true
}

// zonesCheck decides a key zonesApply accepted.
func zonesCheck(kh *keyHist, initial *string) porcupine.CheckResult {
	if _, bad := zonesFind(kh, initial); bad {
		return porcupine.Illegal
	}
	return porcupine.Ok
}

func zonesFind(kh *keyHist, initial *string) (zoneConflict, bool) {
	clusters := map[string]*cluster{}
	key := func(v *string) string {
		if v == nil {
			return "" // absent; real values are keyed "=" + value
		}
		return "=" + *v
	}
	init := &cluster{value: initial, write: -1, call: forever, ret: forever, minFinish: forever, maxCall: forever, first: -1, last: -1}
	clusters[key(initial)] = init
	ordered := []*cluster{init} // map order would make explanations vary
	for i, op := range kh.ops {
		in := op.Input.(*input)
		if in.kind == kWrite {
			c := &cluster{value: &in.to, write: i, call: op.Call, ret: op.Return,
				minFinish: op.Return, maxCall: op.Call, first: i, last: i}
			clusters[key(&in.to)] = c
			ordered = append(ordered, c)
		}
	}
	for i, op := range kh.ops {
		in, out := op.Input.(*input), op.Output.(*output)
		if in.kind != kRead {
			continue
		}
		c := clusters[key(out.value)]
		if c == nil || op.Return < c.call {
			return zoneConflict{read: i}, true
		}
		c.reads++
		if op.Return < c.minFinish {
			c.minFinish, c.first = op.Return, i
		}
		if op.Call > c.maxCall {
			c.maxCall, c.last = op.Call, i
		}
	}
	return orderClusters(ordered)
}

// zonesExplain words a zone conflict of a key zonesApply accepted. The
// caller has found no simpler proof (reads of unwritten values or from the
// future are simpler proofs, found first).
func zonesExplain(kh *keyHist, initial *string, clk clock) (explanation, bool) {
	zc, bad := zonesFind(kh, initial)
	if !bad || zc.read >= 0 {
		return explanation{}, false
	}
	rec := func(op int) int { return kh.ops[op].Metadata.(*meta).rec }
	e := explanation{found: true, ops: len(kh.ops)}
	var named []int
	for _, c := range []*cluster{zc.a.c, zc.b.c} {
		for _, op := range []int{c.write, c.first, c.last} {
			if op >= 0 {
				named = append(named, rec(op))
			}
		}
	}
	// The proof is complete when its last op completed.
	e.time, e.violator = forever, -1
	for _, ri := range named {
		if r := kh.recs[ri]; r.ret > e.time {
			e.time, e.violator = r.ret, ri
		}
	}
	e.named = dedup(named)
	held := func(z zone) string {
		c := z.c
		by := "from the start"
		if c.first >= 0 {
			r := kh.recs[rec(c.first)]
			by = fmt.Sprintf("by %s (when the %s completed)", clk.bare(c.minFinish), opShort(r))
		}
		return fmt.Sprintf("%s was in %s %s and still read by a read that began %s",
			showPtr(c.value), keyName(kh.key), by, clk.at(c.maxCall))
	}
	if zc.b.lo < zc.b.hi && zc.b.c.minFinish < zc.b.c.maxCall { // two forward zones
		e.text = fmt.Sprintf("%s and %s were both current in %s between %s and %s, which no order allows: %s; %s",
			showPtr(zc.a.c.value), showPtr(zc.b.c.value), keyName(kh.key), clk.bare(max(zc.a.lo, zc.b.lo)), clk.bare(min(zc.a.hi, zc.b.hi)),
			held(zc.a), held(zc.b))
		return e, true
	}
	c := zc.b.c
	what := fmt.Sprintf("write %s=%s (%s–%s)", keyName(kh.key), showPtr(c.value), clk.bare(c.call), clk.bare(c.ret))
	if c.reads > 0 {
		what = fmt.Sprintf("the write of %s and its %d reads, which all ran between %s and %s,", showPtr(c.value), c.reads, clk.bare(zc.b.lo), clk.bare(zc.b.hi))
	}
	e.text = fmt.Sprintf("%s had to take effect while %s held %s without interruption, from %s to %s: %s",
		what, keyName(kh.key), showPtr(zc.a.c.value), clk.bare(zc.a.lo), clk.bare(zc.a.hi), held(zc.a))
	return e, true
}

func dedup(xs []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
