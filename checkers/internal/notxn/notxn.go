// Package notxn lets the checkers of single operations refuse transactions
// (ops with micro-ops, harness.FTxn) clearly: such a checker would ignore
// them or read them as something else, and call the history valid.
package notxn

import (
	"fmt"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Validate returns the first transaction of h, which checker (judging
// what) cannot judge.
func Validate(checker, judges string, h harness.History) *harness.OpError {
	for i, op := range h {
		if len(op.Txn) > 0 {
			return &harness.OpError{Pos: i, Op: op, Err: fmt.Errorf(
				"a transaction, but the %s checker judges %s: transactions are judged by the isolation checker (a list-append or rw-register workload, or --format jepsen --model list-append|rw-register)",
				checker, judges)}
		}
	}
	return nil
}

// Refuse is the result of a checker given transactions: unknown, naming the
// first one; ok is false when h has none.
func Refuse(checker, judges string, h harness.History) (res harness.Result, ok bool) {
	e := Validate(checker, judges, h)
	if e == nil {
		return harness.Result{}, false
	}
	return harness.Result{Checker: checker, Validity: harness.Unknown, Summary: "cannot judge this history: " + e.Error()}, true
}
