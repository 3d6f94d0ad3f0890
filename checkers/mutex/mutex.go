// Package mutex checks Knossos's mutex model: a lock that ops :acquire and
// :release. An acquire succeeds only while the lock is free, a release only
// while it is held — by anyone: Knossos's mutex does not track the owner.
// Histories must be linearizable; porcupine searches them, per key when ops
// carry one (Jepsen's independent lock tests).
//
// Semantics (Knossos's): failed ops certainly did not happen and are
// dropped; info ops may take effect at any time after their invocation, or
// never. A search that runs out of time is unknown, never valid.
package mutex

import (
	"context"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/budget"
	"github.com/gauntlet-dev/gauntlet/checkers/internal/bykey"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// The functions of the model.
const (
	FAcquire = "acquire"
	FRelease = "release"
)

// Checker is the mutex linearizability checker.
type Checker struct {
	Timeout time.Duration
	// MemoryBudget bounds the search's heap growth in bytes (0:
	// budget.Default()); beyond it the result is unknown, as for every
	// porcupine search here, instead of the OOM killer ending the process.
	MemoryBudget int64
}

// New returns a checker; timeout 0 means 60 s.
func New(timeout time.Duration) Checker {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return Checker{Timeout: timeout}
}

func (Checker) Name() string { return "linearizable" }

type input struct {
	key     string
	acquire bool
}

// known is false for info ops, whose effect is uncertain.
type output struct{ known bool }

// step: a legal op flips the lock. An illegal op whose outcome is unknown
// simply did not happen here (it may be placed last, where it changes
// nothing: the same as never happening); an illegal ok op cannot go here.
func step(st, in, out interface{}) (bool, interface{}) {
	locked := st.(bool)
	i := in.(input)
	if i.acquire != locked {
		return true, i.acquire
	}
	return !out.(output).known, locked
}

// Model is the porcupine model of one lock that starts free.
var Model = porcupine.Model{
	Partition: bykey.Partition(func(op porcupine.Operation) string { return op.Input.(input).key }),
	Init:      func() interface{} { return false },
	Step:      step,
	Equal:     func(a, b interface{}) bool { return a.(bool) == b.(bool) },
	DescribeOperation: func(in, out interface{}) string {
		i := in.(input)
		s := FRelease
		if i.acquire {
			s = FAcquire
		}
		if i.key != "" {
			s += " " + i.key
		}
		if !out.(output).known {
			s += " ?"
		}
		return s
	},
	DescribeState: func(st interface{}) string {
		if st.(bool) {
			return "held"
		}
		return "free"
	},
}

// Ops turns a history into porcupine operations; an op other than acquire
// or release is an error naming it.
func Ops(h harness.History) ([]porcupine.Operation, error) {
	const inf = int64(1<<62 - 1)
	var ops []porcupine.Operation
	for _, p := range h.Pairs() {
		inv := p.Invoke
		if inv.F != FAcquire && inv.F != FRelease {
			return nil, fmt.Errorf("op at index %d is :%s: the mutex model has only :acquire and :release", inv.Index, inv.F)
		}
		op := porcupine.Operation{ClientId: int(inv.Process), Input: input{key: inv.Key, acquire: inv.F == FAcquire},
			Call: inv.Time, Return: inf, Output: output{}}
		switch {
		case p.Completion == nil || p.Completion.Type == harness.Info:
		case p.Completion.Type == harness.Fail:
			continue // certainly did not happen
		default:
			op.Return, op.Output = p.Completion.Time, output{known: true}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// Check judges the history.
func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	ops, err := Ops(in.History)
	if err != nil {
		res.Validity, res.Summary = harness.Unknown, err.Error()
		return res
	}
	timeout := c.Timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if ctx.Err() != nil || timeout <= 0 {
		res.Validity, res.Summary = harness.Unknown, "cancelled before the search"
		return res
	}
	start := time.Now()
	verdict, overBudget := budget.Check(Model, ops, timeout, c.MemoryBudget)
	switch verdict {
	case porcupine.Ok:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("%d acquires and releases are linearizable", len(ops))
	case porcupine.Illegal:
		res.Validity = harness.Invalid
		res.Summary = fmt.Sprintf("the %d acquires and releases admit no linearization", len(ops))
		a, ok := explain(ops, timeout-time.Since(start))
		if !ok {
			a = harness.Anomaly{Checker: c.Name(), Explanation: "no order of the acquires and releases that respects real time has each acquire find the lock free and each release find it held"}
		}
		res.Anomalies = []harness.Anomaly{a}
		res.Summary += "; first: " + a.Explanation
	default:
		res.Validity = harness.Unknown
		res.Summary = fmt.Sprintf("the search timed out after %s over %d ops: unknown, not valid", timeout, len(ops))
		if overBudget != "" {
			res.Summary = fmt.Sprintf("%s over %d ops: unknown, not valid", overBudget, len(ops))
		}
	}
	return res
}
