// Package mutex checks locks: mutual exclusion, ownership and fencing
// tokens, on histories of acquire, release and guarded work ("hold") of
// named locks (Op.Key; "" is one unnamed lock). It is the one checker of
// locks: the live lock workload and Jepsen imports (--model mutex) both use
// it, so they cannot disagree.
//
// A hold is the span in which a process certainly acted as the lock's
// holder: from the ok completion of its acquire to the invocation of its
// release (whatever the release's outcome: the holder let go when it began
// to release), or, if a guarded op of the holder did not complete ok (the
// holder found it had lost the lock: a lease run out), to the completion of
// its last ok op of that hold. A hold never let go lasts to the end of the
// history.
//
// Judged, per lock:
//   - mutual exclusion: no two holds overlap in real time;
//   - ownership: an ok release comes from a process that may hold the lock,
//     and an ok acquire from one that does not hold it already;
//   - fencing, when ok acquires carry a token (decimal, in Value): tokens are
//     unique, and an acquire invoked after another completed ok has a larger
//     token, so a resource that refuses tokens below the highest it has seen
//     accepts work only from the latest grant it knows of.
//
// Unknown outcomes are counted in the history's favour, so no violation
// ever rests on one: an acquire that is info or pending may never have
// happened (it opens no hold, but lets the process release), a release that
// is info or pending is taken to have happened at its invocation. A failed
// op did not happen. Against Knossos's mutex model this checker differs in
// two ways, both deliberate: it knows owners (Knossos lets any process
// release), and a failed release ends its process's hold (Knossos keeps the
// lock held, which no lock with leases can promise). On histories of ok,
// info and pending acquires and releases of their owners it agrees with
// Knossos exactly: holds that never overlap are a linearization.
package mutex

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// The functions of the model.
const (
	FAcquire = harness.FAcquire
	FRelease = harness.FRelease
	// FHold is guarded work done while holding the lock Key: ok means the
	// holder did the work believing, by what it could know, that it held
	// the lock throughout; fail means it found it did not (its lease had run
	// out) and did none. Value is the work's length in milliseconds.
	FHold = "hold"
)

// Name names the checker and its results.
const Name = "mutex"

// View is the drawing its results ask a report for: the holds on a
// timeline (report/locks.go), from Details.
const View = "locks"

// Checker is the lock checker.
type Checker struct {
	// Timeout is kept for callers that bound every checker; the check is
	// linear in the history and stops only when its context ends.
	Timeout time.Duration
	// MaxAnomalies bounds the anomalies listed (default 20); the summary
	// counts them all.
	MaxAnomalies int
}

// New returns a checker; timeout 0 means 60 s.
func New(timeout time.Duration) Checker {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return Checker{Timeout: timeout}
}

func (Checker) Name() string { return Name }

// ValidateHistory refuses ops the checker cannot judge: other functions, a
// token that is not a decimal integer (harness.HistoryValidator: `gauntlet
// check` exits 64 naming the op).
func (Checker) ValidateHistory(h harness.History) *harness.OpError {
	for i, op := range h {
		if op.IsNemesis() {
			continue
		}
		if err := validOp(op); err != nil {
			return &harness.OpError{Pos: i, Op: op, Err: err}
		}
	}
	return nil
}

func validOp(op harness.Op) error {
	switch op.F {
	case FAcquire:
		if op.Type == harness.OK && op.Value != nil {
			if _, err := parseToken(*op.Value); err != nil {
				return err
			}
		}
	case FRelease:
	case FHold:
		if op.Type == harness.Invoke && op.Value != nil {
			if ms, err := strconv.ParseInt(*op.Value, 10, 64); err != nil || ms < 0 {
				return fmt.Errorf("the guarded work's length %q is not a number of milliseconds", *op.Value)
			}
		}
	default:
		return fmt.Errorf(":%s is not an operation of locks (acquire, release, hold)", op.F)
	}
	return nil
}

func parseToken(s string) (uint64, error) {
	t, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the fencing token %q of an ok acquire is not a non-negative decimal integer", s)
	}
	return t, nil
}

// Details is the result's Details: what report/locks.go draws.
type Details struct {
	Holds []Hold `json:"holds"`
	// Violations pairs the holds (indexes into Holds) that overlap: the
	// earlier one first.
	Violations [][2]int `json:"violations,omitempty"`
	// Refused counts guarded ops a resource checking fencing tokens would
	// have refused: work of a holder whose token a newer one had
	// superseded.
	Refused int `json:"refused,omitempty"`
}

// Check judges the history.
func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	if e := c.ValidateHistory(in.History); e != nil {
		res.Validity, res.Summary = harness.Unknown, e.Error()
		return res
	}
	if ctx.Err() != nil {
		res.Validity, res.Summary = harness.Unknown, "cancelled before the check"
		return res
	}
	a := analyze(in.History)
	anomalies := append(append(append([]harness.Anomaly(nil), a.ownership...), a.exclusion...), a.fencing...)
	max := c.MaxAnomalies
	if max <= 0 {
		max = 20
	}
	d := Details{Holds: a.holds, Violations: a.violations, Refused: a.refused}
	if b, err := json.Marshal(d); err == nil {
		res.Details = b
	}
	res.View = View
	counts := a.counts.String()
	if len(anomalies) == 0 {
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("%d holds of %s never overlapped; %s", len(a.holds), a.lockWord(), counts)
		if a.tokens > 0 {
			res.Summary += fmt.Sprintf("; %d fencing tokens unique and increasing", a.tokens)
		}
		return res
	}
	res.Validity = harness.Invalid
	var parts []string
	for _, n := range []struct {
		k    int
		what string
	}{{len(a.exclusion), "mutual exclusion"}, {len(a.ownership), "ownership"}, {len(a.fencing), "fencing"}} {
		if n.k > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n.k, n.what))
		}
	}
	res.Summary = fmt.Sprintf("%s violated (%s); %s", strings.Join(parts, ", "), plural(len(anomalies), "anomaly", "anomalies"), counts)
	if a.refused > 0 {
		res.Summary += fmt.Sprintf("; a resource checking fencing tokens would have refused %d guarded ops of superseded holders", a.refused)
	}
	if len(anomalies) > max {
		anomalies = anomalies[:max]
	}
	res.Anomalies = anomalies
	res.Summary += "; first: " + anomalies[0].Explanation
	return res
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
