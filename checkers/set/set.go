// Package set checks set histories as Jepsen's set checker does: every add
// that was acknowledged must be in the final read, and the final read may
// hold nothing that was never added. Adds whose outcome is unknown (info)
// may or may not appear.
//
// Ops: F "add" with Value the element; F "read" whose completion Value is a
// JSON array of the elements read (as formats/jepsen writes it).
package set

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Checker is the set checker.
type Checker struct{}

// New returns a set checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "set" }

// Details is what the checker found, for reports.
type Details struct {
	Attempted  int      `json:"attempted"`
	Acked      int      `json:"acknowledged"`
	Read       int      `json:"read"`
	Lost       []string `json:"lost,omitempty"`       // acknowledged, missing from the final read
	Unexpected []string `json:"unexpected,omitempty"` // read, never attempted
	Recovered  []string `json:"recovered,omitempty"`  // outcome unknown, but read
}

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	attempted := map[string]bool{}
	acked := map[string]harness.Op{}
	unknown := map[string]bool{}
	var final *harness.Op
	for _, p := range in.History.Pairs() {
		switch p.Invoke.F {
		case harness.FAdd:
			if p.Invoke.Value == nil {
				continue
			}
			v := *p.Invoke.Value
			attempted[v] = true
			switch {
			case p.Completion == nil || p.Completion.Type == harness.Info:
				unknown[v] = true
			case p.Completion.Type == harness.OK:
				acked[v] = *p.Completion
			}
		case harness.FRead:
			if p.Completion != nil && p.Completion.Type == harness.OK && p.Completion.Value != nil {
				c := *p.Completion
				final = &c
			}
		}
	}
	if final == nil {
		res.Validity = harness.Unknown
		res.Summary = "no successful read of the set, so nothing can be judged"
		return res
	}
	var elems []string
	if err := json.Unmarshal([]byte(*final.Value), &elems); err != nil {
		res.Validity = harness.Unknown
		res.Summary = fmt.Sprintf("final read at index %d is not a JSON array of elements: %v", final.Index, err)
		return res
	}
	read := map[string]bool{}
	for _, e := range elems {
		read[e] = true
	}
	d := Details{Attempted: len(attempted), Acked: len(acked), Read: len(read)}
	for v := range acked {
		if !read[v] {
			d.Lost = append(d.Lost, v)
		}
	}
	for v := range read {
		switch {
		case !attempted[v]:
			d.Unexpected = append(d.Unexpected, v)
		case unknown[v]:
			d.Recovered = append(d.Recovered, v)
		}
	}
	sort.Strings(d.Lost)
	sort.Strings(d.Unexpected)
	sort.Strings(d.Recovered)
	res.Details, _ = json.Marshal(d)
	if len(d.Lost) == 0 && len(d.Unexpected) == 0 {
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("all %d acknowledged adds are in the final read (%d elements; %d of unknown outcome appeared)", len(acked), len(read), len(d.Recovered))
		return res
	}
	res.Validity = harness.Invalid
	var parts []string
	if len(d.Lost) > 0 {
		parts = append(parts, fmt.Sprintf("%d acknowledged adds are missing from the final read (lost: %s)", len(d.Lost), head(d.Lost)))
		first := acked[d.Lost[0]]
		res.Anomalies = append(res.Anomalies, harness.Anomaly{
			Checker: c.Name(), Time: final.Time, Ops: []harness.Op{first, *final},
			Explanation: fmt.Sprintf("add of %s was acknowledged at %.2f s, but the final read at %.2f s does not contain it", d.Lost[0], secs(first.Time), secs(final.Time)),
		})
	}
	if len(d.Unexpected) > 0 {
		parts = append(parts, fmt.Sprintf("%d elements were read that nobody added (%s)", len(d.Unexpected), head(d.Unexpected)))
		res.Anomalies = append(res.Anomalies, harness.Anomaly{
			Checker: c.Name(), Time: final.Time, Ops: []harness.Op{*final},
			Explanation: fmt.Sprintf("the final read at %.2f s contains %s, which no add ever attempted", secs(final.Time), d.Unexpected[0]),
		})
	}
	res.Summary = strings.Join(parts, "; ")
	return res
}

func head(xs []string) string {
	if len(xs) > 5 {
		return strings.Join(xs[:5], ", ") + ", …"
	}
	return strings.Join(xs, ", ")
}

func secs(ns int64) float64 { return float64(ns) / 1e9 }
