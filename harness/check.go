// Checking: the workload's checkers, each bounded, and the verdict.

package harness

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"time"
)

// check runs the workload's checkers on the history and the digests (see
// Check) and returns their results followed by the runner's own findings.
func (r *run) check(ctx context.Context) []Result {
	in := CheckInput{History: r.hw.History(), Digests: r.digests, Dir: r.dir}
	return append(Check(ctx, r.p.Workload.Checkers(), in, r.t.CheckTimeout.D(), r.log), r.extra...)
}

// Check runs checkers one after another, each bounded by timeout. A checker
// that panics or does not return in time yields unknown, never valid.
func Check(ctx context.Context, checkers []Checker, in CheckInput, timeout time.Duration, log Logger) []Result {
	out := make([]Result, 0, len(checkers))
	for _, c := range checkers {
		out = append(out, checkOne(ctx, c, in, timeout, log))
	}
	return out
}

func checkOne(ctx context.Context, c Checker, in CheckInput, timeout time.Duration, log Logger) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resc := make(chan Result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				if log != nil {
					log.Error("checker panic", "checker", c.Name(), "panic", v, "stack", string(debug.Stack()))
				}
				resc <- Result{Checker: c.Name(), Validity: Unknown, Summary: fmt.Sprintf("checker panicked: %v", v)}
			}
		}()
		resc <- c.Check(ctx, in)
	}()
	// Grace beyond the deadline for a checker to notice it; after that it
	// is abandoned and its verdict is unknown.
	grace := time.NewTimer(timeout + max(100*time.Millisecond, min(5*time.Second, timeout/4)))
	defer grace.Stop()
	select {
	case res := <-resc:
		if res.Checker == "" {
			res.Checker = c.Name()
		}
		switch res.Validity {
		case Valid, Invalid, Unknown:
		default:
			res.Summary = strings.TrimSpace(fmt.Sprintf("%s (checker gave validity %q)", res.Summary, res.Validity))
			res.Validity = Unknown
		}
		return res
	case <-grace.C:
		return Result{Checker: c.Name(), Validity: Unknown, Summary: fmt.Sprintf("did not finish within the check timeout (%s)", timeout)}
	}
}

// Verdict merges the checker results. A run with no results is unknown.
func Verdict(results []Result) Validity {
	if len(results) == 0 {
		return Unknown
	}
	vs := make([]Validity, len(results))
	for i, c := range results {
		vs[i] = c.Validity
	}
	return Merge(vs...)
}

// FirstViolation is the earliest time of an anomaly of an invalid result.
func FirstViolation(results []Result) *int64 {
	var first *int64
	for _, c := range results {
		if c.Validity != Invalid {
			continue
		}
		for _, a := range c.Anomalies {
			if a.Time == math.MaxInt64 {
				continue // an anomaly of an op that never completed has no time of its own
			}
			if first == nil || a.Time < *first {
				t := a.Time
				first = &t
			}
		}
	}
	return first
}
