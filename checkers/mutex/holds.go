package mutex

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Open is a hold's End when its holder never let go.
const Open = math.MaxInt64

// How a hold ended.
const (
	EndRelease = "release" // its release began
	EndLost    = "lost"    // a guarded op found the lock gone
	EndOpen    = "open"    // never, before the history ended
	EndAgain   = "again"   // its process acquired the lock again (an anomaly)
)

// Hold is one process's certain hold of a lock.
type Hold struct {
	Key     string          `json:"key,omitempty"`
	Process harness.Process `json:"process"`
	// Invoke is when the acquire was invoked; Start when it completed ok
	// (ns since the test started), with the op indexes.
	Invoke      int64 `json:"invoke"`
	Start       int64 `json:"start"`
	InvokeIndex int   `json:"invoke_index"`
	StartIndex  int   `json:"start_index"`
	// End is when the hold certainly ended (Open: never); EndIndex the op
	// that ended it (-1 none).
	End      int64  `json:"end"`
	EndIndex int    `json:"end_index"`
	EndKind  string `json:"end_kind"`
	// Token is the fencing token of the acquire (HasToken false: none).
	Token    uint64 `json:"token,omitempty"`
	HasToken bool   `json:"has_token,omitempty"`
	// Node is the node the acquire went through ("" unknown).
	Node string `json:"node,omitempty"`
	// Guarded are the ok guarded ops: [invoke, completion] times.
	Guarded [][2]int64 `json:"guarded,omitempty"`
	// ops are the indexes of the ops that began and ended it (the acquire,
	// the release or the failed guarded op), for the anomalies to show.
	ops []int
	// last is the completion of the hold's last ok op, and its index.
	last      int64
	lastIndex int
}

// procKey is a process's state on one lock.
type procKey struct {
	p   harness.Process
	key string
}

type procState struct {
	open *Hold
	// releasable: the process holds a grant it has not released ok (its
	// hold may have ended by a failed release or lost lease, yet the lock
	// may still be its own on the system).
	releasable bool
	// maybe: an acquire of unknown outcome may have granted it the lock.
	maybe bool
}

// analysis is everything the check found.
type analysis struct {
	holds      []Hold
	violations [][2]int
	ownership  []harness.Anomaly
	exclusion  []harness.Anomaly
	fencing    []harness.Anomaly
	refused    int
	tokens     int
	locks      map[string]bool
	counts     counts
}

func (a *analysis) lockWord() string {
	if len(a.locks) == 1 {
		for k := range a.locks {
			if k == "" {
				return "the lock"
			}
			return "lock " + k
		}
	}
	return fmt.Sprintf("%d locks", len(a.locks))
}

// analyze builds every hold and judges them. The history must have passed
// ValidateHistory.
func analyze(h harness.History) *analysis {
	a := &analysis{locks: map[string]bool{}, counts: counts{}}
	states := map[procKey]*procState{}
	byIndex := map[int]harness.Op{}
	closeHold := func(st *procState, end int64, endIdx int, kind string, pr *harness.Pair) {
		hd := st.open
		hd.End, hd.EndIndex, hd.EndKind = end, endIdx, kind
		if pr != nil {
			hd.ops = append(hd.ops, pairOps(pr, byIndex)...)
		}
		a.holds = append(a.holds, *hd)
		st.open = nil
	}
	for _, pr := range h.Pairs() {
		inv, comp := pr.Invoke, pr.Completion
		pr := pr
		a.counts.add(inv.F, comp)
		a.locks[inv.Key] = true
		k := procKey{inv.Process, inv.Key}
		st := states[k]
		if st == nil {
			st = &procState{}
			states[k] = st
		}
		typ := harness.Info // pending counts as unknown
		if comp != nil {
			typ = comp.Type
		}
		switch inv.F {
		case FAcquire:
			switch typ {
			case harness.OK:
				if st.open != nil {
					a.ownership = append(a.ownership, again(*st.open, inv, *comp))
					closeHold(st, comp.Time, comp.Index, EndAgain, nil)
				}
				hd := &Hold{Key: inv.Key, Process: inv.Process, Invoke: inv.Time, Start: comp.Time,
					InvokeIndex: inv.Index, StartIndex: comp.Index, Node: comp.Node, last: comp.Time, lastIndex: comp.Index}
				if comp.Value != nil {
					hd.Token, _ = parseToken(*comp.Value)
					hd.HasToken = true
				}
				hd.ops = pairOps(&pr, byIndex)
				st.open, st.releasable = hd, true
			case harness.Info:
				st.maybe = true
			}
		case FHold:
			switch {
			case st.open == nil:
				if typ == harness.OK && !st.maybe && !st.releasable {
					a.ownership = append(a.ownership, unheld(inv, *comp, "did guarded work on"))
				}
			case typ == harness.OK:
				st.open.Guarded = append(st.open.Guarded, [2]int64{inv.Time, comp.Time})
				st.open.last, st.open.lastIndex = comp.Time, comp.Index
			default:
				closeHold(st, st.open.last, inv.Index, EndLost, &pr)
			}
		case FRelease:
			if st.open != nil {
				closeHold(st, inv.Time, inv.Index, EndRelease, &pr)
			}
			if typ == harness.OK {
				if !st.releasable && !st.maybe {
					a.ownership = append(a.ownership, unheld(inv, *comp, "released"))
				}
				st.releasable, st.maybe = false, false
			}
		}
	}
	// Holds never let go, in a deterministic order.
	var open []procKey
	for k, st := range states {
		if st.open != nil {
			open = append(open, k)
		}
	}
	sort.Slice(open, func(i, j int) bool { return states[open[i]].open.StartIndex < states[open[j]].open.StartIndex })
	for _, k := range open {
		closeHold(states[k], Open, -1, EndOpen, nil)
	}
	sort.SliceStable(a.holds, func(i, j int) bool {
		x, y := a.holds[i], a.holds[j]
		if x.Start != y.Start {
			return x.Start < y.Start
		}
		return x.StartIndex < y.StartIndex
	})
	a.exclusion, a.violations = overlaps(a.holds, faults(h))
	a.fencing, a.refused, a.tokens = fencing(a.holds)
	for _, as := range [][]harness.Anomaly{a.ownership, a.exclusion, a.fencing} {
		sort.SliceStable(as, func(i, j int) bool { return as[i].Time < as[j].Time })
		for i := range as {
			as[i].Ops = realOps(as[i].Ops, byIndex)
		}
	}
	return a
}

// pairOps remembers an invocation and its completion and returns their
// indexes.
func pairOps(pr *harness.Pair, byIndex map[int]harness.Op) []int {
	byIndex[pr.Invoke.Index] = pr.Invoke
	out := []int{pr.Invoke.Index}
	if pr.Completion != nil {
		byIndex[pr.Completion.Index] = *pr.Completion
		out = append(out, pr.Completion.Index)
	}
	return out
}

// realOps turns the ops an anomaly names by index into the history's ops
// (those it names in full stay), in index order, each once.
func realOps(named []harness.Op, byIndex map[int]harness.Op) []harness.Op {
	seen := map[int]bool{}
	var out []harness.Op
	for _, o := range named {
		if seen[o.Index] {
			continue
		}
		seen[o.Index] = true
		if full, ok := byIndex[o.Index]; ok {
			o = full
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// overlaps finds, for each hold that began while another hold of its lock
// was still held, the earliest such other hold. Holds are sorted by start.
func overlaps(holds []Hold, fl faultLog) (out []harness.Anomaly, pairs [][2]int) {
	active := map[string][]int{} // lock -> holds not yet ended, by start
	for i, h := range holds {
		if h.End <= h.Start {
			continue // its holder learned at once it held nothing
		}
		var still []int
		culprit := -1
		for _, j := range active[h.Key] {
			if holds[j].End > h.Start {
				still = append(still, j)
				if culprit < 0 {
					culprit = j
				}
			}
		}
		if culprit >= 0 {
			pairs = append(pairs, [2]int{culprit, i})
			out = append(out, overlap(holds[culprit], h, fl))
		}
		active[h.Key] = append(still, i)
	}
	return out, pairs
}

// counts are the outcomes of each function, pending included.
type counts map[string]*[4]int // ok, fail, info, pending

func (c counts) add(f string, comp *harness.Op) {
	n := c[f]
	if n == nil {
		n = &[4]int{}
		c[f] = n
	}
	switch {
	case comp == nil:
		n[3]++
	case comp.Type == harness.OK:
		n[0]++
	case comp.Type == harness.Fail:
		n[1]++
	default:
		n[2]++
	}
}

// String: "acquire 12 ok, 30 fail, 1 info; release 12 ok; hold 20 ok, 1 pending".
func (c counts) String() string {
	if len(c) == 0 {
		return "no acquires or releases"
	}
	var parts []string
	for _, f := range []string{FAcquire, FHold, FRelease} {
		n := c[f]
		if n == nil {
			continue
		}
		var each []string
		for i, w := range []string{"ok", "fail", "info", "pending"} {
			if n[i] > 0 || i == 0 {
				each = append(each, fmt.Sprintf("%d %s", n[i], w))
			}
		}
		parts = append(parts, f+" "+strings.Join(each, ", "))
	}
	return strings.Join(parts, "; ")
}
