// Package counter checks counter histories as Jepsen's counter checker does:
// every read must lie between the least and the most the counter could hold
// at some moment while the read was in flight.
//
// Ops: F "add" with Value the (integer) delta, F "read" with the completion's
// Value the integer read (an ok read with no Value reads 0, an absent
// counter). Each Key is a counter of its own, starting at 0. For each read,
// the bounds are: adds acknowledged before the read began certainly count;
// adds invoked before the read completed that overlap it, or whose outcome
// is unknown (info, or never completed), may or may not count — each moves
// only the bound on its side, so an indeterminate add is counted both ways;
// failed adds never count.
package counter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Checker is the counter checker.
type Checker struct{}

// New returns a counter checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "counter" }

// Bad is a read outside its bounds.
type Bad struct {
	Key   string `json:"key,omitempty"`
	Index int    `json:"index"`
	Time  int64  `json:"time"`
	Value int64  `json:"value"`
	Lower int64  `json:"lower"`
	Upper int64  `json:"upper"`
}

// Details is what the checker found.
type Details struct {
	Keys  int `json:"keys"`
	Reads int `json:"reads"`
	Adds  int `json:"adds"` // attempted
	// Acknowledged, Unknown and Failed count adds by outcome.
	Acknowledged int `json:"acknowledged"`
	Unknown      int `json:"unknown"`
	Failed       int `json:"failed"`
	// BadCount counts reads out of bounds; Bad lists the first maxBad.
	BadCount int   `json:"bad_count"`
	Bad      []Bad `json:"bad,omitempty"`
}

const (
	maxBad       = 100
	maxAnomalies = 10
)

// ValidateHistory refuses counter ops the checker cannot read: an add
// whose delta or a read whose value is not an integer
// (harness.HistoryValidator: `gauntlet check` exits 64 naming the op).
func (Checker) ValidateHistory(h harness.History) *harness.OpError {
	for i, op := range h {
		if op.IsNemesis() {
			continue
		}
		switch {
		case op.F == harness.FAdd && op.Type == harness.Invoke:
			if _, err := delta(op); err != nil {
				return &harness.OpError{Pos: i, Op: op, Err: err}
			}
		case op.F == harness.FRead && op.Type == harness.OK:
			if _, err := value(op); err != nil {
				return &harness.OpError{Pos: i, Op: op, Err: err}
			}
		case op.F != harness.FAdd && op.F != harness.FRead:
			return &harness.OpError{Pos: i, Op: op, Err: fmt.Errorf("%q is not an operation of a counter (add, read)", op.F)}
		}
	}
	return nil
}

func delta(op harness.Op) (int64, error) {
	if op.Value == nil {
		return 0, errors.New("a counter add needs its delta in its value")
	}
	d, err := strconv.ParseInt(*op.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("a counter add's delta must be an integer, got %q", *op.Value)
	}
	return d, nil
}

func value(op harness.Op) (int64, error) {
	if op.Value == nil {
		return 0, nil
	}
	v, err := strconv.ParseInt(*op.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("a counter read must return an integer, got %q", *op.Value)
	}
	return v, nil
}

type read struct{ inv, comp harness.Op }

// sums is a prefix sum over history indexes: at(i) is the sum of the
// entries placed before index i.
type sums struct {
	idx []int
	sum []int64 // sum[j] = total of the first j entries
}

func (s *sums) put(i int, v int64) { s.idx = append(s.idx, i); s.sum = append(s.sum, v) }

func (s *sums) done() {
	ord := make([]int, len(s.idx))
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool { return s.idx[ord[a]] < s.idx[ord[b]] })
	idx := make([]int, len(ord))
	sum := make([]int64, len(ord)+1)
	for j, o := range ord {
		idx[j] = s.idx[o]
		sum[j+1] = sum[j] + s.sum[o]
	}
	s.idx, s.sum = idx, sum
}

func (s *sums) at(i int) int64 { return s.sum[sort.SearchInts(s.idx, i)] }

// counter is one key's adds, as prefix sums, and reads.
type counter struct {
	// Over the adds that did not fail, by invocation index: their
	// negative and positive parts (what each may move the bounds by).
	neg, pos sums
	// Over the acknowledged adds, by completion index: the parts that
	// become certain once an add is known done before a read began.
	okPos, okNeg sums
	reads        []read
	// adds lists the adds that did not fail, by invocation, for explanations.
	adds []harness.Pair
}

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	byKey := map[string]*counter{}
	get := func(k string) *counter {
		if byKey[k] == nil {
			byKey[k] = &counter{}
		}
		return byKey[k]
	}
	d := Details{}
	for _, p := range in.History.Pairs() {
		switch p.Invoke.F {
		case harness.FAdd:
			dv, err := delta(p.Invoke)
			if err != nil {
				return badInput(res, p.Invoke, err)
			}
			d.Adds++
			ct := get(p.Invoke.Key)
			if p.Completion != nil && p.Completion.Type == harness.Fail {
				d.Failed++
				continue
			}
			ct.neg.put(p.Invoke.Index, min(dv, 0))
			ct.pos.put(p.Invoke.Index, max(dv, 0))
			ct.adds = append(ct.adds, p)
			if p.Completion != nil && p.Completion.Type == harness.OK {
				d.Acknowledged++
				ct.okPos.put(p.Completion.Index, max(dv, 0))
				ct.okNeg.put(p.Completion.Index, min(dv, 0))
			} else {
				d.Unknown++
			}
		case harness.FRead:
			if p.Completion != nil && p.Completion.Type == harness.OK {
				if _, err := value(*p.Completion); err != nil {
					return badInput(res, *p.Completion, err)
				}
				ct := get(p.Invoke.Key)
				ct.reads = append(ct.reads, read{p.Invoke, *p.Completion})
			}
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d.Keys = len(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			res.Validity = harness.Unknown
			res.Summary = "the check was cut off: " + err.Error()
			return res
		}
		ct := byKey[k]
		for _, s := range []*sums{&ct.neg, &ct.pos, &ct.okPos, &ct.okNeg} {
			s.done()
		}
		sort.Slice(ct.reads, func(i, j int) bool { return ct.reads[i].comp.Index < ct.reads[j].comp.Index })
		d.Reads += len(ct.reads)
		for _, r := range ct.reads {
			v, _ := value(r.comp)
			// Every add invoked before the read completed may count, on
			// its side; those acknowledged before it began count for sure.
			lo := ct.neg.at(r.comp.Index) + ct.okPos.at(r.inv.Index)
			hi := ct.pos.at(r.comp.Index) + ct.okNeg.at(r.inv.Index)
			if v >= lo && v <= hi {
				continue
			}
			d.BadCount++
			if len(d.Bad) < maxBad {
				d.Bad = append(d.Bad, Bad{Key: k, Index: r.comp.Index, Time: r.comp.Time, Value: v, Lower: lo, Upper: hi})
			}
			if len(res.Anomalies) < maxAnomalies {
				res.Anomalies = append(res.Anomalies, c.explain(k, ct, r, v, lo, hi))
			}
		}
	}
	sort.SliceStable(res.Anomalies, func(i, j int) bool { return res.Anomalies[i].Time < res.Anomalies[j].Time })
	res.Details, _ = json.Marshal(d)
	switch {
	case d.Reads == 0:
		res.Validity = harness.Unknown
		res.Summary = "no successful read of a counter, so nothing can be judged"
	case d.BadCount == 0:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("all %d reads lie within their bounds (%d adds acknowledged, %d of unknown outcome counted both ways, %d failed)", d.Reads, d.Acknowledged, d.Unknown, d.Failed)
	default:
		res.Validity = harness.Invalid
		res.Summary = fmt.Sprintf("%d of %d reads lie outside the values the counter could have held", d.BadCount, d.Reads)
	}
	return res
}

func badInput(res harness.Result, op harness.Op, err error) harness.Result {
	res.Validity = harness.Unknown
	res.Summary = fmt.Sprintf("op %d (%s): %v, so the history cannot be judged", op.Index, op, err)
	return res
}

// explain says why a read is out of bounds: what certainly counted, what
// might have, and the op that tips it (the last acknowledged add certainly
// before the read when it read too little, the read's own value otherwise).
func (c Checker) explain(k string, ct *counter, r read, v, lo, hi int64) harness.Anomaly {
	var certain, maybe, unknown int
	var last *harness.Pair
	for i := range ct.adds {
		p := &ct.adds[i]
		if p.Invoke.Index >= r.comp.Index {
			break // adds are in invocation order
		}
		switch {
		case p.Completion != nil && p.Completion.Type == harness.OK && p.Completion.Index < r.inv.Index:
			certain++
			if last == nil || last.Completion.Index < p.Completion.Index {
				last = p
			}
		case p.Completion == nil || p.Completion.Type == harness.Info:
			unknown++
		default:
			maybe++
		}
	}
	of := ""
	if k != "" {
		of = " of counter " + k
	}
	where := ""
	if r.comp.Node != "" {
		where = ", on " + r.comp.Node
	}
	text := fmt.Sprintf("the read%s by process %s at %.2f s (op %d%s) returned %d, but while it was in flight the counter could only have held %d to %d: %d adds acknowledged before it began count for certain, %d in flight and %d of unknown outcome may or may not",
		of, r.comp.Process, float64(r.comp.Time)/1e9, r.comp.Index, where, v, lo, hi, certain, maybe, unknown)
	ops := []harness.Op{r.inv, r.comp}
	if last != nil && v < lo {
		text += fmt.Sprintf(" (the last of them: add %s by process %s, acknowledged at %.2f s, op %d)", *last.Invoke.Value, last.Completion.Process, float64(last.Completion.Time)/1e9, last.Completion.Index)
		ops = append([]harness.Op{last.Invoke, *last.Completion}, ops...)
	}
	return harness.Anomaly{Checker: c.Name(), Key: k, Time: r.comp.Time, Ops: ops, Explanation: text}
}
