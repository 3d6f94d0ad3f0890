// Package multiregister checks Knossos's multi-register model: every op is a
// transaction of reads and writes over several registers, applied atomically.
// Histories must be linearizable; porcupine searches them whole (a txn may
// span keys, so they cannot be split per key).
//
// Ops: F "txn" whose Value is a JSON list of micro-ops {"f":"r"|"w","k":…,"v":…}
// (formats/jepsen writes them). The invocation carries the writes; an ok
// completion also carries what each read saw (v null = never written).
// Info txns may take effect at any later point, or never: their reads are
// not constrained.
package multiregister

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/budget"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// MicroOp is one read or write inside a transaction.
type MicroOp struct {
	F     string  `json:"f"` // r | w
	Key   string  `json:"k"`
	Value *string `json:"v"`
}

// Checker is the multi-register linearizability checker.
type Checker struct {
	Timeout time.Duration
	// MemoryBudget bounds the search's heap growth in bytes (0:
	// budget.Default()); beyond it the result is unknown.
	MemoryBudget int64
}

// New returns a checker; timeout 0 means 60 s. A timeout is unknown, never valid.
func New(timeout time.Duration) Checker {
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return Checker{Timeout: timeout}
}

func (Checker) Name() string { return "linearizable" }

type output struct {
	known bool
	ops   []MicroOp
}

// state is the registers, encoded canonically so equal states compare equal.
type state string

func decodeState(s state) map[string]string {
	m := map[string]string{}
	if s == "" {
		return m
	}
	var kv []string
	_ = json.Unmarshal([]byte(s), &kv)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func encodeState(m map[string]string) state {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, m[k])
	}
	b, _ := json.Marshal(kv)
	return state(b)
}

// Model is the porcupine model of a set of registers.
var Model = porcupine.Model{
	Init: func() interface{} { return state("") },
	Step: func(st, in, out interface{}) (bool, interface{}) {
		regs := decodeState(st.(state))
		txn := in.([]MicroOp)
		o := out.(output)
		for i, m := range txn {
			switch m.F {
			case "w":
				if m.Value == nil {
					delete(regs, m.Key)
				} else {
					regs[m.Key] = *m.Value
				}
			case "r":
				if !o.known || i >= len(o.ops) {
					continue
				}
				got := o.ops[i].Value
				cur, ok := regs[m.Key]
				if got == nil && ok || got != nil && (!ok || *got != cur) {
					return false, st
				}
			}
		}
		return true, encodeState(regs)
	},
	DescribeOperation: func(in, out interface{}) string {
		o := out.(output)
		ops := in.([]MicroOp)
		if o.known {
			ops = o.ops
		}
		var parts []string
		for _, m := range ops {
			v := "nil"
			if m.Value != nil {
				v = *m.Value
			}
			parts = append(parts, fmt.Sprintf("%s %s %s", m.F, m.Key, v))
		}
		s := "[" + strings.Join(parts, ", ") + "]"
		if !o.known {
			s += " ?"
		}
		return s
	},
	DescribeState: func(st interface{}) string { return string(st.(state)) },
}

// Check judges the history.
func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	var ops []porcupine.Operation
	const inf = int64(1<<62 - 1)
	for _, p := range in.History.Pairs() {
		if p.Invoke.F != "txn" || p.Invoke.Value == nil {
			continue
		}
		var txn []MicroOp
		if err := json.Unmarshal([]byte(*p.Invoke.Value), &txn); err != nil {
			res.Validity = harness.Unknown
			res.Summary = fmt.Sprintf("txn at index %d is not a list of micro-ops: %v", p.Invoke.Index, err)
			return res
		}
		op := porcupine.Operation{ClientId: int(p.Invoke.Process), Input: txn, Call: p.Invoke.Time, Return: inf, Output: output{}}
		switch {
		case p.Completion == nil || p.Completion.Type == harness.Info:
		case p.Completion.Type == harness.Fail:
			continue // certainly did not happen
		case p.Completion.Type == harness.OK:
			var got []MicroOp
			if p.Completion.Value != nil {
				if err := json.Unmarshal([]byte(*p.Completion.Value), &got); err != nil {
					res.Validity = harness.Unknown
					res.Summary = fmt.Sprintf("txn completion at index %d is malformed: %v", p.Completion.Index, err)
					return res
				}
			}
			op.Return = p.Completion.Time
			op.Output = output{known: true, ops: got}
		}
		ops = append(ops, op)
	}
	if ctx.Err() != nil {
		res.Validity = harness.Unknown
		res.Summary = "cancelled"
		return res
	}
	r, overBudget := budget.Check(Model, ops, c.Timeout, c.MemoryBudget)
	switch r {
	case porcupine.Ok:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("%d transactions are linearizable", len(ops))
	case porcupine.Illegal:
		res.Validity = harness.Invalid
		res.Summary = fmt.Sprintf("the %d transactions admit no linearization", len(ops))
		res.Anomalies = []harness.Anomaly{{Checker: c.Name(), Explanation: "no order of the transactions that respects real time explains every read"}}
	default:
		res.Validity = harness.Unknown
		res.Summary = fmt.Sprintf("the search timed out after %s over %d transactions: unknown, not valid", c.Timeout, len(ops))
		if overBudget != "" {
			res.Summary = fmt.Sprintf("%s over %d transactions: unknown, not valid", overBudget, len(ops))
		}
	}
	return res
}
