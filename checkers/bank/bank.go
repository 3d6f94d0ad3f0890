// Package bank checks bank histories: transfers between accounts inside
// transactions ([add a -5] [add b 5]), and reads of every account in one
// transaction ([r a 10] [r b 25] …). Whatever the transfers did, every read
// must show the same total, and (unless allowed) no negative balance.
//
// The balances are set by a transaction of writes ([w a 20] [w b 20] …) at
// the start; it may be repeated until one is acknowledged, and a repeat
// resets the balances with the same total. A read invoked before the first
// acknowledged one completed may see no account at all; after it, a read
// that sees none has lost the balances, and one that sees some accounts but
// not others saw part of a transaction.
package bank

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Options shape a checker.
type Options struct {
	Accounts []string // every account's key
	// Total is the sum of all balances, constant. 0: the sum the first
	// acknowledged initial write wrote.
	Total         int64
	AllowNegative bool
}

// Checker is the bank checker.
type Checker struct{ o Options }

// New returns a checker.
func New(o Options) Checker { return Checker{o: o} }

func (Checker) Name() string { return "bank" }

// Details is the checker's machine-readable result.
type Details struct {
	Total      int64 `json:"total"`
	Reads      int   `json:"reads"` // ok reads of every account
	Partial    int   `json:"partial_reads,omitempty"`
	WrongTotal int   `json:"wrong_total"`
	Negative   int   `json:"negative"`
	Empty      int   `json:"empty_after_init,omitempty"` // reads that saw no account after the balances were set
	MinTotal   int64 `json:"min_total"`
	MaxTotal   int64 `json:"max_total"`
}

// read is one ok transaction's view of the accounts.
type read struct {
	op       harness.Op
	invIndex int
	bal      map[string]int64
	absent   []string
}

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name(), Validity: harness.Unknown}
	accounts := c.o.Accounts
	total := c.o.Total
	initDone := -1 // the history position where the first ok initial write completed
	var reads []read
	open := map[harness.Process]int{}
	nonTxn := 0
	for i, op := range in.History {
		if i&0xffff == 0 && ctx.Err() != nil {
			res.Summary = fmt.Sprintf("the check was cut short (%v)", ctx.Err())
			return res
		}
		if op.IsNemesis() {
			continue
		}
		if op.F != harness.FTxn {
			nonTxn++
			continue
		}
		if op.Type == harness.Invoke {
			open[op.Process] = i
			continue
		}
		inv, ok := open[op.Process]
		if !ok {
			continue
		}
		delete(open, op.Process)
		if op.Type != harness.OK {
			continue
		}
		kind, err := classify(op)
		if err != nil {
			res.Summary = fmt.Sprintf("cannot judge op %d (process %s): %v", op.Index, op.Process, err)
			return res
		}
		switch kind {
		case "init":
			if initDone < 0 {
				initDone = i
				if total == 0 {
					for _, m := range op.Txn {
						n, _ := strconv.ParseInt(*m.Value, 10, 64)
						total += n
					}
				}
				if len(accounts) == 0 {
					for _, m := range op.Txn {
						accounts = append(accounts, m.Key)
					}
				}
			}
		case "read":
			r := read{op: op, invIndex: inv, bal: map[string]int64{}}
			for _, m := range op.Txn {
				if m.Value == nil {
					r.absent = append(r.absent, m.Key)
					continue
				}
				n, err := strconv.ParseInt(*m.Value, 10, 64)
				if err != nil {
					res.Summary = fmt.Sprintf("cannot judge op %d (process %s): micro-op %s: a balance must be an integer", op.Index, op.Process, m)
					return res
				}
				r.bal[m.Key] = n
			}
			reads = append(reads, r)
		}
	}
	if len(accounts) == 0 {
		res.Summary = "no accounts: neither named by the workload nor written by an acknowledged initial transaction"
		return res
	}
	if total == 0 && initDone < 0 {
		res.Summary = "the total is unknown: no initial transaction was acknowledged"
		return res
	}
	d := Details{Total: total}
	var wrong, negative, empty *read
	first := true
	for i := range reads {
		r := &reads[i]
		covers := true
		for _, a := range accounts {
			if _, ok := r.bal[a]; !ok && !contains(r.absent, a) {
				covers = false
			}
		}
		for _, n := range r.bal {
			if n < 0 && !c.o.AllowNegative {
				d.Negative++
				if negative == nil {
					negative = r
				}
				break
			}
		}
		if !covers {
			d.Partial++
			continue
		}
		if len(r.bal) == 0 {
			// Nothing there yet: fine until the balances were set.
			if initDone >= 0 && r.invIndex > initDone {
				d.Empty++
				if empty == nil {
					empty = r
				}
			}
			continue
		}
		d.Reads++
		sum := r.sum()
		if first {
			d.MinTotal, d.MaxTotal, first = sum, sum, false
		}
		d.MinTotal, d.MaxTotal = min(d.MinTotal, sum), max(d.MaxTotal, sum)
		if sum != total || len(r.absent) > 0 {
			d.WrongTotal++
			if wrong == nil {
				wrong = r
			}
		}
	}
	if wrong != nil {
		res.Anomalies = append(res.Anomalies, c.anomaly(wrong, fmt.Sprintf("read %s: total %d, but the total is %d (%s)%s; %s with a wrong total",
			balances(wrong, accounts), wrong.sum(), total, diff(wrong.sum()-total), absentNote(wrong), firstOf(d.WrongTotal))))
	}
	if negative != nil {
		var neg []string
		for _, a := range accounts {
			if n, ok := negative.bal[a]; ok && n < 0 {
				neg = append(neg, fmt.Sprintf("%s = %d", a, n))
			}
		}
		res.Anomalies = append(res.Anomalies, c.anomaly(negative, fmt.Sprintf("read %s: a negative balance (%s), which transfers never make; %s with one",
			balances(negative, accounts), strings.Join(neg, ", "), firstOf(d.Negative))))
	}
	if empty != nil {
		res.Anomalies = append(res.Anomalies, c.anomaly(empty, fmt.Sprintf("read %s, every account absent, though the balances had been set before it began; %s like it",
			balances(empty, accounts), firstOf(d.Empty))))
	}
	res.Details, _ = json.Marshal(d)
	switch {
	case len(res.Anomalies) > 0:
		res.Validity = harness.Invalid
		var parts []string
		if d.WrongTotal > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d reads saw a wrong total (%d to %d, not %d)", d.WrongTotal, d.Reads, d.MinTotal, d.MaxTotal, total))
		}
		if d.Negative > 0 {
			parts = append(parts, fmt.Sprintf("%s saw a negative balance", plural(d.Negative, "read")))
		}
		if d.Empty > 0 {
			parts = append(parts, fmt.Sprintf("%s saw no account after the balances were set", plural(d.Empty, "read")))
		}
		res.Summary = strings.Join(parts, "; ")
	case d.Reads == 0:
		res.Summary = "no acknowledged read of every account: nothing to judge"
	default:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("%s of %d accounts all saw the total %d", plural(d.Reads, "read"), len(accounts), total)
		if !c.o.AllowNegative {
			res.Summary += " and no negative balance"
		}
	}
	if d.Partial > 0 {
		res.Summary += fmt.Sprintf(" (%d reads of only some accounts checked for negative balances only)", d.Partial)
	}
	if nonTxn > 0 {
		res.Summary += fmt.Sprintf(" (%d ops that are not transactions ignored)", nonTxn)
	}
	return res
}

// classify says what a bank transaction is: "init" (writes), "transfer"
// (adds) or "read" (reads); anything else cannot be judged.
func classify(op harness.Op) (string, error) {
	kind := ""
	for _, m := range op.Txn {
		var k string
		switch m.F {
		case harness.MWrite:
			k = "init"
		case harness.MAdd:
			k = "transfer"
		case harness.MRead:
			k = "read"
			if m.List != nil {
				return "", fmt.Errorf("micro-op %s: a balance read returns one integer, not a list", m)
			}
		default:
			return "", fmt.Errorf("micro-op %s: a bank transaction has only w (initial balances), add (transfers) and r (reads)", m)
		}
		if m.F != harness.MRead && m.Value == nil {
			return "", fmt.Errorf("micro-op %s needs an integer", m)
		}
		if m.F == harness.MWrite {
			if _, err := strconv.ParseInt(*m.Value, 10, 64); err != nil {
				return "", fmt.Errorf("micro-op %s: a balance must be an integer", m)
			}
		}
		if kind != "" && k != kind {
			return "", fmt.Errorf("%s mixes %ss and %ss: want only writes, only adds, or only reads", harness.TxnString(op.Txn), kind, k)
		}
		kind = k
	}
	return kind, nil
}

func (r *read) sum() int64 {
	var s int64
	for _, n := range r.bal {
		s += n
	}
	return s
}

func (c Checker) anomaly(r *read, what string) harness.Anomaly {
	return harness.Anomaly{Checker: c.Name(), Time: r.op.Time, Ops: []harness.Op{r.op},
		Explanation: fmt.Sprintf("Op %d (process %s, ok at %.2f s) %s.", r.op.Index, r.op.Process, float64(r.op.Time)/1e9, what)}
}

func balances(r *read, accounts []string) string {
	var parts []string
	for _, a := range accounts {
		if n, ok := r.bal[a]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", a, n))
		} else {
			parts = append(parts, a+"=nil")
		}
	}
	return strings.Join(parts, " ")
}

func absentNote(r *read) string {
	if len(r.absent) == 0 {
		return ""
	}
	return fmt.Sprintf("; %s absent: the read saw part of a transaction", strings.Join(r.absent, ", "))
}

func diff(d int64) string {
	if d < 0 {
		return fmt.Sprintf("%d missing", -d)
	}
	return fmt.Sprintf("%d too many", d)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// firstOf names the first of n reads: "the only read", "the first of 3 reads".
func firstOf(n int) string {
	if n == 1 {
		return "the only read"
	}
	return fmt.Sprintf("the first of %d reads", n)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
