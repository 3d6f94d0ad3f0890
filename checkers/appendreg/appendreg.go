// Package appendreg checks histories of string registers with get, put and
// append (append concatenates), per key — the key/value model of porcupine's
// kv test data. Registers start as the empty string. Failed ops did not
// happen; info ops may take effect at any later time or never; a timeout is
// unknown, never valid.
//
// The register checker (checkers/linearizable) is not reused: its pruning,
// bounding and zone shortcuts are proved for whole-value writes, and an
// append observed as a suffix breaks those proofs.
package appendreg

import (
	"context"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/budget"
	"github.com/gauntlet-dev/gauntlet/checkers/internal/bykey"
	"github.com/gauntlet-dev/gauntlet/checkers/internal/notxn"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// FAppend is the function name of an append.
const FAppend = "append"

// Checker is the get/put/append linearizability checker.
type Checker struct {
	Timeout time.Duration
	// MemoryBudget bounds the search's heap growth in bytes (0:
	// budget.Default()); beyond it the result is unknown.
	MemoryBudget int64
}

// New returns a checker; timeout 0 means 30 s.
func New(timeout time.Duration) Checker {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return Checker{Timeout: timeout}
}

func (Checker) Name() string { return Name }

// Name names the checker and its results.
const Name = "append-register"

type input struct {
	f   string // read | write | append
	key string
	arg string
}

type output struct {
	known bool
	value string
}

// Model is the porcupine model, partitioned by key.
var Model = porcupine.Model{
	Partition: bykey.Partition(func(op porcupine.Operation) string { return op.Input.(input).key }),
	Init:      func() interface{} { return "" },
	Step: func(st, in, out interface{}) (bool, interface{}) {
		s, i, o := st.(string), in.(input), out.(output)
		switch i.f {
		case harness.FRead:
			return !o.known || o.value == s, s
		case harness.FWrite:
			return true, i.arg
		default:
			return true, s + i.arg
		}
	},
	DescribeOperation: func(in, out interface{}) string {
		i, o := in.(input), out.(output)
		if i.f == harness.FRead {
			return fmt.Sprintf("get %s → %q", i.key, o.value)
		}
		return fmt.Sprintf("%s %s %q", i.f, i.key, i.arg)
	},
}

// Operations are h's get, put and append ops as porcupine checks them with
// Model: failed ops and unknown gets dropped, other info ops open-ended.
func Operations(h harness.History) []porcupine.Operation {
	const inf = int64(1<<62 - 1)
	var ops []porcupine.Operation
	for _, p := range h.Pairs() {
		f := p.Invoke.F
		if f != harness.FRead && f != harness.FWrite && f != FAppend {
			continue
		}
		i := input{f: f, key: p.Invoke.Key}
		if p.Invoke.Value != nil && f != harness.FRead {
			i.arg = *p.Invoke.Value
		}
		op := porcupine.Operation{ClientId: int(p.Invoke.Process), Input: i, Call: p.Invoke.Time, Return: inf, Output: output{}}
		switch {
		case p.Completion != nil && p.Completion.Type == harness.Fail:
			continue
		case p.Completion != nil && p.Completion.Type == harness.OK:
			op.Return = p.Completion.Time
			o := output{known: true}
			if p.Completion.Value != nil {
				o.value = *p.Completion.Value
			}
			op.Output = o
		case f == harness.FRead:
			continue // an unknown read constrains nothing
		}
		ops = append(ops, op)
	}
	return ops
}

const judges = "get, put and append of single-key string registers"

// ValidateHistory refuses transactions (harness.HistoryValidator).
func (c Checker) ValidateHistory(h harness.History) *harness.OpError {
	return notxn.Validate(c.Name(), judges, h)
}

// Check judges the history.
func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	if r, refused := notxn.Refuse(c.Name(), judges, in.History); refused {
		return r
	}
	res := harness.Result{Checker: c.Name()}
	ops := Operations(in.History)
	if ctx.Err() != nil {
		res.Validity, res.Summary = harness.Unknown, "cancelled"
		return res
	}
	verdict, overBudget := budget.Check(Model, ops, c.Timeout, c.MemoryBudget)
	switch verdict {
	case porcupine.Ok:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("%d get/put/append ops are linearizable", len(ops))
	case porcupine.Illegal:
		res.Validity = harness.Invalid
		res.Summary = fmt.Sprintf("the %d get/put/append ops admit no linearization", len(ops))
		res.Anomalies = []harness.Anomaly{{Checker: c.Name(), Explanation: "no order of the operations that respects real time explains every get"}}
	default:
		res.Validity = harness.Unknown
		res.Summary = fmt.Sprintf("the search timed out after %s: unknown, not valid", c.Timeout)
		if overBudget != "" {
			res.Summary = overBudget + ": unknown, not valid"
		}
	}
	return res
}
