package wire

import (
	"context"
	"fmt"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// txn performs a transaction (protocol version 2, POST /txn).
//
//   - ok with every read filled in: a register read's Value (nil: absent),
//     a list read's List (empty when absent). A read asks for a list when
//     its invocation carries an empty List, as the list-append workload's do.
//   - a read-only transaction that failed in any way: fail (it changed
//     nothing).
//   - otherwise as a write: fail when refused as a whole (409) or certainly
//     not applied (503), info when it may have been applied.
//
// An answer that is not the transaction sent (other micro-ops, a list for a
// register) is not trusted: fail for a read-only transaction, info
// otherwise.
func (c *Client) txn(ctx context.Context, op harness.Op) harness.Op {
	if len(op.Txn) == 0 {
		return refused(op, "a transaction without micro-ops")
	}
	req := make([]api.Mop, len(op.Txn))
	for i, m := range op.Txn {
		req[i] = api.Mop{F: m.F, Key: m.Key, Value: m.Value, List: m.List}
		if m.F == harness.MRead {
			req[i].Value = nil
		}
	}
	readOnly := api.ReadOnly(req)
	out, err := c.c.Txn(ctx, req)
	if err != nil {
		if readOnly {
			return failed(op, err)
		}
		return mutated(ctx, op, err)
	}
	done := op.Complete(harness.OK)
	if err := fill(done.Txn, out); err != nil {
		t := harness.Info
		if readOnly {
			t = harness.Fail
		}
		bad := op.Complete(t)
		bad.Error = "the node answered another transaction than the one sent: " + err.Error()
		return bad
	}
	return done
}

// fill copies what the reads of out read into txn, checking that out
// answers txn micro-op by micro-op.
func fill(txn []harness.Mop, out []api.Mop) error {
	if len(out) != len(txn) {
		return fmt.Errorf("%d micro-ops answered for %d sent", len(out), len(txn))
	}
	for i := range txn {
		m, got := &txn[i], out[i]
		if got.F != m.F || got.Key != m.Key {
			return fmt.Errorf("micro-op %d: sent [%s %s], answered [%s %s]", i, m.F, m.Key, got.F, got.Key)
		}
		if m.F != harness.MRead {
			continue
		}
		if m.List != nil {
			if got.Value != nil {
				return fmt.Errorf("micro-op %d: a read of the list %s answered with the value %q", i, m.Key, *got.Value)
			}
			m.List = got.List
			if m.List == nil {
				m.List = []string{}
			}
			continue
		}
		if got.List != nil {
			return fmt.Errorf("micro-op %d: a read of the register %s answered with a list", i, m.Key)
		}
		m.Value = got.Value
	}
	return nil
}
