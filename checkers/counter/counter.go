// Package counter checks counter histories as Jepsen's counter checker does:
// every read must lie between the least and the most the counter could hold
// at some moment while the read was in flight.
//
// Ops: F "add" with Value the (integer) delta, F "read" with the completion's
// Value the integer read. The counter starts at 0. For each read, the bounds
// are: adds acknowledged before the read began certainly count; adds that
// overlap the read, or whose outcome is unknown, may or may not count (each
// moves only the bound on its side); failed adds never count.
package counter

import (
	"context"
	"encoding/json"
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
	Index int   `json:"index"`
	Time  int64 `json:"time"`
	Value int64 `json:"value"`
	Lower int64 `json:"lower"`
	Upper int64 `json:"upper"`
}

// Details is what the checker found.
type Details struct {
	Reads int   `json:"reads"`
	Bad   []Bad `json:"bad,omitempty"`
}

type add struct {
	delta         int64
	invoke        int64 // time
	complete      int64 // time; MaxInt64 when unknown
	ok            bool
	failed        bool
	invokeIndex   int
	completeIndex int
}

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	var adds []add
	type read struct{ inv, comp harness.Op }
	var reads []read
	for _, p := range in.History.Pairs() {
		switch p.Invoke.F {
		case harness.FAdd:
			if p.Invoke.Value == nil {
				continue
			}
			d, err := strconv.ParseInt(*p.Invoke.Value, 10, 64)
			if err != nil {
				res.Validity = harness.Unknown
				res.Summary = fmt.Sprintf("add at index %d has a non-integer delta %q", p.Invoke.Index, *p.Invoke.Value)
				return res
			}
			a := add{delta: d, invoke: p.Invoke.Time, complete: 1<<63 - 1, invokeIndex: p.Invoke.Index, completeIndex: 1<<31 - 1}
			if p.Completion != nil {
				switch p.Completion.Type {
				case harness.OK:
					a.ok, a.complete, a.completeIndex = true, p.Completion.Time, p.Completion.Index
				case harness.Fail:
					a.failed = true
				}
			}
			if !a.failed {
				adds = append(adds, a)
			}
		case harness.FRead:
			if p.Completion != nil && p.Completion.Type == harness.OK && p.Completion.Value != nil {
				reads = append(reads, read{p.Invoke, *p.Completion})
			}
		}
	}
	if len(reads) == 0 {
		res.Validity = harness.Unknown
		res.Summary = "no successful read of the counter, so nothing can be judged"
		return res
	}
	sort.Slice(reads, func(i, j int) bool { return reads[i].comp.Index < reads[j].comp.Index })
	d := Details{Reads: len(reads)}
	for _, r := range reads {
		v, err := strconv.ParseInt(*r.comp.Value, 10, 64)
		if err != nil {
			res.Validity = harness.Unknown
			res.Summary = fmt.Sprintf("read at index %d returned a non-integer %q", r.comp.Index, *r.comp.Value)
			return res
		}
		var lo, hi int64
		for _, a := range adds {
			switch {
			case a.ok && a.completeIndex < r.inv.Index: // certainly before the read
				lo += a.delta
				hi += a.delta
			case a.invokeIndex < r.comp.Index: // overlapping or unknown: may count
				if a.delta < 0 {
					lo += a.delta
				} else {
					hi += a.delta
				}
			}
		}
		if v < lo || v > hi {
			d.Bad = append(d.Bad, Bad{Index: r.comp.Index, Time: r.comp.Time, Value: v, Lower: lo, Upper: hi})
			if len(res.Anomalies) < 10 {
				res.Anomalies = append(res.Anomalies, harness.Anomaly{
					Checker: c.Name(), Time: r.comp.Time, Ops: []harness.Op{r.inv, r.comp},
					Explanation: fmt.Sprintf("read at %.2f s returned %d, but the counter could only have held between %d and %d while the read was in flight",
						float64(r.comp.Time)/1e9, v, lo, hi),
				})
			}
		}
	}
	res.Details, _ = json.Marshal(d)
	if len(d.Bad) == 0 {
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("all %d reads lie within their bounds", len(reads))
	} else {
		res.Validity = harness.Invalid
		res.Summary = fmt.Sprintf("%d of %d reads lie outside the values the counter could have held", len(d.Bad), len(reads))
	}
	return res
}
