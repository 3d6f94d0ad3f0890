// Package guard does the lock workload's guarded work for a lock client
// that knows until when its lease lasts: the work is done only if, by
// that knowledge, the client holds the lock throughout (checkers/mutex
// judges the holds such work vouches for).
package guard

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// FHold is the lock workload's guarded work (checkers/mutex.FHold, which a
// target may not import): Value is its length in milliseconds.
const FHold = "hold"

// Work does the guarded work op if the lease, valid until until (valid
// false: not at all), outlasts it: ok once done; fail, doing none, when the
// lease may end first or the op is malformed; info when the work was cut
// short by the op's deadline or outlived the lease after all (the worker
// was descheduled: the client cannot vouch for the whole of it).
func Work(ctx context.Context, op harness.Op, until time.Time, valid bool, token string) harness.Op {
	ms := int64(0)
	if op.Value != nil {
		var err error
		if ms, err = strconv.ParseInt(*op.Value, 10, 64); err != nil || ms < 0 {
			return op.Failed(harness.Fail, nil, fmt.Sprintf("guarded work of %q: want a length in milliseconds", *op.Value))
		}
	}
	work := time.Duration(ms) * time.Millisecond
	if !valid || time.Now().Add(work).After(until) {
		return op.Failed(harness.Fail, nil, fmt.Sprintf("the lease (token %s) may end before the work would: did none", token))
	}
	t := time.NewTimer(work)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return op.Failed(harness.Info, ctx.Err(), "the work was cut short")
	}
	if time.Now().After(until) {
		return op.Failed(harness.Info, nil, "the work outlived the lease")
	}
	return op.Complete(harness.OK)
}
