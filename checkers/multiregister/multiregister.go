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
	"github.com/gauntlet-dev/gauntlet/checkers/internal/bykey"
	"github.com/gauntlet-dev/gauntlet/checkers/internal/notxn"
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
	// Initial holds the registers' values before the first txn (Knossos's
	// tests start at {:x 0 :y 0}); a key not in it starts absent.
	Initial map[string]string
	// NilReadsUnknown follows Knossos's multi-register, where a read of nil
	// means "we don't know what the read saw" ("nil reads are always
	// legal"). Without it nil means the register was absent.
	NilReadsUnknown bool
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

func (Checker) Name() string { return Name }

// Name names the checker and its results.
const Name = "multi-register"

type output struct {
	known bool
	ops   []MicroOp
}

// input is one txn; key is its independent key (Jepsen's [k txn] tuples),
// by which histories are split.
type input struct {
	key string
	txn []MicroOp
	idx int // the op's number, by which the memo knows it
}

// state is the registers. States are never modified: a step that writes
// copies the map. Porcupine sees states as numbers (see memo).
type state map[string]string

func describeState(s state) string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + s[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// step applies a txn: its writes always, its reads checked when the outcome
// is known (nil reads too, unless nilUnknown).
func step(regs state, in input, o output, nilUnknown bool) (bool, state) {
	var next state
	for i, m := range in.txn {
		if m.F == "w" {
			if next == nil {
				next = make(state, len(regs)+1)
				for k, v := range regs {
					next[k] = v
				}
			}
			if m.Value == nil {
				delete(next, m.Key)
			} else {
				next[m.Key] = *m.Value
			}
			continue
		}
		if !o.known || i >= len(o.ops) {
			continue
		}
		got := o.ops[i].Value
		if got == nil && nilUnknown {
			continue
		}
		cur := regs
		if next != nil {
			cur = next
		}
		v, ok := cur[m.Key]
		if got == nil && ok || got != nil && (!ok || *got != v) {
			return false, regs
		}
	}
	if next == nil {
		return true, regs
	}
	return true, next
}

// model returns the porcupine model of registers starting at initial.
func model(initial map[string]string, nilUnknown bool) porcupine.Model {
	init := state{}
	for k, v := range initial {
		init[k] = v
	}
	m := newMemo(nilUnknown)
	start := m.id(init)
	return porcupine.Model{
		Partition: bykey.Partition(func(op porcupine.Operation) string { return op.Input.(input).key }),
		Init:      func() interface{} { return start },
		Step: func(st, in, out interface{}) (bool, interface{}) {
			return m.step(st.(int), in.(input), out.(output))
		},
		Hash:              func(st interface{}) uint64 { return uint64(st.(int)) },
		DescribeOperation: describeOp,
		DescribeState:     func(st interface{}) string { return describeState(m.state(st.(int))) },
	}
}

func describeOp(in, out interface{}) string {
	o := out.(output)
	ops := in.(input).txn
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
}

const judges = "Knossos's multi-register transactions (micro-ops in the op's value) for linearizability"

// ValidateHistory refuses Gauntlet's transactions (harness.HistoryValidator).
func (c Checker) ValidateHistory(h harness.History) *harness.OpError {
	return notxn.Validate(c.Name(), judges, h)
}

// Check judges the history.
func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	if r, refused := notxn.Refuse(c.Name(), judges, in.History); refused {
		return r
	}
	res := harness.Result{Checker: c.Name()}
	ops, err := operations(in.History)
	if err != nil {
		res.Validity, res.Summary = harness.Unknown, err.Error()
		return res
	}
	ops = prune(ops)
	if ctx.Err() != nil {
		res.Validity = harness.Unknown
		res.Summary = "cancelled"
		return res
	}
	m := model(c.Initial, c.NilReadsUnknown)
	start := time.Now()
	r, overBudget := budget.Check(m, ops, c.Timeout, c.MemoryBudget)
	switch r {
	case porcupine.Ok:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("%d transactions are linearizable", len(ops))
	case porcupine.Illegal:
		res.Validity = harness.Invalid
		res.Summary = fmt.Sprintf("the %d transactions admit no linearization", len(ops))
		a, ok := explain(m, ops, c.Timeout-time.Since(start))
		if !ok {
			a = harness.Anomaly{Checker: c.Name(), Explanation: "no order of the transactions that respects real time explains every read"}
		}
		res.Anomalies = []harness.Anomaly{a}
		res.Summary += "; first: " + a.Explanation
	default:
		res.Validity = harness.Unknown
		res.Summary = fmt.Sprintf("the search timed out after %s over %d transactions: unknown, not valid", c.Timeout, len(ops))
		if overBudget != "" {
			res.Summary = fmt.Sprintf("%s over %d transactions: unknown, not valid", overBudget, len(ops))
		}
	}
	return res
}

const inf = int64(1<<62 - 1)

// operations turns the txns of a history into porcupine operations.
func operations(h harness.History) ([]porcupine.Operation, error) {
	var ops []porcupine.Operation
	for _, p := range h.Pairs() {
		if p.Invoke.F != "txn" || p.Invoke.Value == nil {
			continue
		}
		var txn []MicroOp
		if err := json.Unmarshal([]byte(*p.Invoke.Value), &txn); err != nil {
			return nil, fmt.Errorf("txn at index %d is not a list of micro-ops: %v", p.Invoke.Index, err)
		}
		op := porcupine.Operation{ClientId: int(p.Invoke.Process), Input: input{key: p.Invoke.Key, txn: txn, idx: len(ops)},
			Call: p.Invoke.Time, Return: inf, Output: output{}}
		switch {
		case p.Completion == nil || p.Completion.Type == harness.Info:
		case p.Completion.Type == harness.Fail:
			continue // certainly did not happen
		case p.Completion.Type == harness.OK:
			var got []MicroOp
			if p.Completion.Value != nil {
				if err := json.Unmarshal([]byte(*p.Completion.Value), &got); err != nil {
					return nil, fmt.Errorf("txn completion at index %d is malformed: %v", p.Completion.Index, err)
				}
			}
			op.Return = p.Completion.Time
			op.Output = output{known: true, ops: got}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// prune drops txns whose outcome is unknown and that cannot matter, which
// keeps the verdict and spares the search: those without writes (their
// reads are unconstrained, they change nothing), and those whose every
// write is the only write of its value to its key and was never read — a
// linearization with such a txn stays one without it, since no read sees
// what it wrote.
func prune(ops []porcupine.Operation) []porcupine.Operation {
	type kv struct{ part, key, v string }
	writes, reads := map[kv]int{}, map[kv]bool{}
	for _, op := range ops {
		in := op.Input.(input)
		for i, m := range in.txn {
			if m.F == "w" && m.Value != nil {
				writes[kv{in.key, m.Key, *m.Value}]++
			}
			if o := op.Output.(output); o.known && m.F == "r" && i < len(o.ops) && o.ops[i].Value != nil {
				reads[kv{in.key, m.Key, *o.ops[i].Value}] = true
			}
		}
	}
	out := ops[:0:0]
	for _, op := range ops {
		in := op.Input.(input)
		if op.Output.(output).known {
			out = append(out, op)
			continue
		}
		keep := false
		for _, m := range in.txn {
			if m.F != "w" {
				continue
			}
			k := kv{in.key, m.Key, ""}
			if m.Value != nil {
				k.v = *m.Value
			}
			if m.Value == nil || writes[k] > 1 || reads[k] {
				keep = true
				break
			}
		}
		if keep {
			out = append(out, op)
		}
	}
	return out
}
