package linearizable

import (
	"sort"

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

// zoneMinOps: shorter keys go to porcupine, which also draws them.
const zoneMinOps = 1000

type cluster struct {
	call, ret          int64 // the write's interval (forever for the initial value)
	minFinish, maxCall int64
	reads              int
}

// zonesApply says whether the key's checked ops are reads and writes only,
// each value written at most once and never the initial value.
func zonesApply(kh *keyHist, initial *string) bool {
	written := map[string]bool{}
	if initial != nil {
		written[*initial] = true
	}
	for _, op := range kh.ops {
		in := op.Input.(input)
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
	const absent = "\x00absent" // cannot collide: real values are keys of a separate map
	clusters := map[string]*cluster{}
	key := func(v *string) string {
		if v == nil {
			return absent
		}
		return "=" + *v
	}
	init := &cluster{call: forever, ret: forever, minFinish: forever, maxCall: forever}
	if initial != nil {
		clusters[key(initial)] = init
	} else {
		clusters[absent] = init
	}
	for _, op := range kh.ops {
		in := op.Input.(input)
		if in.kind == kWrite {
			clusters[key(&in.to)] = &cluster{call: op.Call, ret: op.Return, minFinish: op.Return, maxCall: op.Call}
		}
	}
	for _, op := range kh.ops {
		in, out := op.Input.(input), op.Output.(output)
		if in.kind != kRead {
			continue
		}
		c := clusters[key(out.value)]
		if c == nil || op.Return < c.call {
			return porcupine.Illegal // a value never written, or read before its write began
		}
		c.reads++
		c.minFinish = min(c.minFinish, op.Return)
		c.maxCall = max(c.maxCall, op.Call)
	}
	type zone struct{ lo, hi int64 }
	var fwd, bwd []zone
	for _, c := range clusters {
		if c.minFinish < c.maxCall {
			fwd = append(fwd, zone{c.minFinish, c.maxCall})
		} else {
			bwd = append(bwd, zone{c.maxCall, c.minFinish})
		}
	}
	sort.Slice(fwd, func(i, j int) bool { return fwd[i].lo < fwd[j].lo })
	for i := 1; i < len(fwd); i++ {
		if fwd[i].lo < fwd[i-1].hi {
			return porcupine.Illegal // two values both held over the overlap
		}
	}
	// Forward zones are now disjoint and sorted by both ends: only the last
	// one starting before a backward zone can contain it.
	for _, b := range bwd {
		i := sort.Search(len(fwd), func(i int) bool { return fwd[i].lo >= b.lo }) - 1
		if i >= 0 && b.hi < fwd[i].hi {
			return porcupine.Illegal // a cluster with no room outside another's zone
		}
	}
	return porcupine.Ok
}
