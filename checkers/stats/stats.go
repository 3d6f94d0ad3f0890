// Package stats counts what happened to the operations of a run: ok, fail
// and info per function, with latency quantiles. Its verdict guards the other
// checkers against vacuous passes: a run in which almost nothing succeeded
// proves nothing, so it is unknown, never valid.
package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Checker is the stats checker. The zero value uses the defaults.
type Checker struct {
	// MinOK is the fewest ok ops a run needs to be judged (default 10).
	MinOK int
	// MinOKFraction is the smallest share of completed ops that must be ok
	// (default 0.01).
	MinOKFraction float64
	// MinAttempts: a function attempted at least this often with no ok at
	// all makes the run unknown, since no violation involving it could have
	// been seen (default 20).
	MinAttempts int
}

// New returns a stats checker with the defaults.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "stats" }

// Counts are the outcomes of one function's operations.
type Counts struct {
	OK      int `json:"ok"`
	Fail    int `json:"fail"`
	Info    int `json:"info"`
	Pending int `json:"pending,omitempty"` // invoked, never completed (history cut off)
	// Latency quantiles in milliseconds over completed (ok and fail) ops.
	Latency *Quantiles `json:"latency_ms,omitempty"`
}

// Attempts is every invocation, whatever became of it.
func (c Counts) Attempts() int { return c.OK + c.Fail + c.Info + c.Pending }

// Quantiles of a latency distribution, in milliseconds.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Details is what the checker reports for reports.
type Details struct {
	Total  Counts            `json:"total"`
	ByF    map[string]Counts `json:"by_f"`
	Faults int               `json:"faults"` // faults started
	// Span is the time from the first to the last op, in seconds.
	Span float64 `json:"span_s"`
	// Throughput is ok ops per second over the span.
	Throughput float64 `json:"ok_per_s"`
}

// Compute counts the history.
func Compute(h harness.History) Details {
	d := Details{ByF: map[string]Counts{}}
	lat := map[string][]int64{}
	var all []int64
	// A fault is recorded as an invocation and a completion of the same
	// start (Jepsen: two :info ops of :start); count it once. Op.FaultMark
	// reads the typed mark, and old and Jepsen histories' F.
	open := map[string]bool{}
	for _, op := range h.NemesisOps() {
		m, ok := op.FaultMark()
		switch {
		case !ok:
		case !m.Stop:
			if !open[m.Package] {
				d.Faults++
			}
			open[m.Package] = true
		case m.Package == "":
			clear(open) // a heal of every package
		default:
			delete(open, m.Package)
		}
	}
	for _, p := range h.Pairs() {
		c := d.ByF[p.Invoke.F]
		switch {
		case p.Completion == nil:
			c.Pending++
		case p.Completion.Type == harness.OK:
			c.OK++
		case p.Completion.Type == harness.Fail:
			c.Fail++
		default:
			c.Info++
		}
		if p.Completion != nil && p.Completion.Type != harness.Info {
			l := p.Completion.Time - p.Invoke.Time
			lat[p.Invoke.F] = append(lat[p.Invoke.F], l)
			all = append(all, l)
		}
		d.ByF[p.Invoke.F] = c
	}
	for f, c := range d.ByF {
		c.Latency = quantiles(lat[f])
		d.ByF[f] = c
		d.Total.OK += c.OK
		d.Total.Fail += c.Fail
		d.Total.Info += c.Info
		d.Total.Pending += c.Pending
	}
	d.Total.Latency = quantiles(all)
	if len(h) > 1 {
		d.Span = float64(h[len(h)-1].Time-h[0].Time) / 1e9
		if d.Span > 0 {
			d.Throughput = float64(d.Total.OK) / d.Span
		}
	}
	return d
}

func quantiles(ls []int64) *Quantiles {
	if len(ls) == 0 {
		return nil
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	q := func(p float64) float64 {
		i := int(p * float64(len(ls)-1))
		return float64(ls[i]) / float64(time.Millisecond)
	}
	return &Quantiles{P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: q(1)}
}

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	minOK, minFrac, minAttempts := c.MinOK, c.MinOKFraction, c.MinAttempts
	if minOK <= 0 {
		minOK = 10
	}
	if minFrac <= 0 {
		minFrac = 0.01
	}
	if minAttempts <= 0 {
		minAttempts = 20
	}
	d := Compute(in.History)
	res := harness.Result{Checker: c.Name(), Validity: harness.Valid}
	if b, err := json.Marshal(d); err == nil {
		res.Details = b
	}
	completed := d.Total.OK + d.Total.Fail + d.Total.Info
	var problems []string
	if d.Total.OK < minOK {
		problems = append(problems, fmt.Sprintf("only %d ops succeeded (need %d)", d.Total.OK, minOK))
	} else if float64(d.Total.OK) < minFrac*float64(completed) {
		problems = append(problems, fmt.Sprintf("only %d of %d completed ops succeeded (%.2f%%, need %.0f%%)",
			d.Total.OK, completed, 100*float64(d.Total.OK)/float64(completed), 100*minFrac))
	}
	fs := make([]string, 0, len(d.ByF))
	for f := range d.ByF {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	var parts []string
	for _, f := range fs {
		cnt := d.ByF[f]
		part := fmt.Sprintf("%s %d/%d/%d", f, cnt.OK, cnt.Fail, cnt.Info)
		if d.Total.Pending > 0 {
			part += fmt.Sprintf("/%d", cnt.Pending)
		}
		parts = append(parts, part)
		if cnt.OK == 0 && cnt.Attempts() >= minAttempts {
			problems = append(problems, fmt.Sprintf("no %s of %d succeeded, so no violation involving %s could be seen", f, cnt.Attempts(), f))
		}
	}
	res.Summary = counts(d.Total, parts)
	if len(problems) > 0 {
		res.Validity = harness.Unknown
		res.Summary = "too little succeeded to judge the run: " + strings.Join(problems, "; ") + ". " + res.Summary
	}
	return res
}

// counts is the summary's tally: pending invocations (a history cut off)
// are counted as every checker counts them, and a history without client
// ops says so rather than show an empty breakdown.
func counts(total Counts, parts []string) string {
	if len(parts) == 0 {
		return "no client ops"
	}
	if total.Pending > 0 {
		return fmt.Sprintf("%d ok, %d fail, %d info, %d pending (ok/fail/info/pending: %s)", total.OK, total.Fail, total.Info, total.Pending, strings.Join(parts, ", "))
	}
	return fmt.Sprintf("%d ok, %d fail, %d info (ok/fail/info: %s)", total.OK, total.Fail, total.Info, strings.Join(parts, ", "))
}
