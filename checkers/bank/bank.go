// Package bank checks bank histories: transfers between accounts inside
// transactions, and reads of every account in one transaction. The total is
// constant and (unless allowed) no balance goes negative.
//
// SKELETON: the API that the bank workload builds against (issue 25).
package bank

import (
	"context"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Options shape a checker.
type Options struct {
	Accounts      []string // every account's key
	Total         int64    // the sum of all balances, constant
	AllowNegative bool
}

// Checker is the bank checker.
type Checker struct{ o Options }

// New returns a checker.
func New(o Options) Checker { return Checker{o: o} }

func (Checker) Name() string { return "bank" }

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	return harness.Result{Checker: c.Name(), Validity: harness.Unknown, Summary: "the bank checker is not built yet"}
}
