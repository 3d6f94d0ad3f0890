package wire

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// setCounter performs the adds and reads of sets and counters (Op.Kind).
//
//   - set add (Value the element), counter add (Value a signed integer):
//     ok; fail when certainly not applied; info otherwise, as a write. A
//     counter add is sent with a request id and retried while its outcome
//     is unknown (client.CounterAdd).
//   - set read: ok with Value the JSON array of the elements; counter read:
//     ok with Value the integer; fail on any error (a read changes nothing).
func (c *Client) setCounter(ctx context.Context, op harness.Op) harness.Op {
	switch {
	case op.F == harness.FAdd && op.Value == nil:
		return refused(op, op.Kind+" add without a value")
	case op.Kind == harness.KindSet && op.F == harness.FAdd:
		return mutated(ctx, op, c.c.SetAdd(ctx, op.Key, *op.Value))
	case op.Kind == harness.KindSet && op.F == harness.FRead:
		elems, err := c.c.SetRead(ctx, op.Key)
		if err != nil {
			return failed(op, err)
		}
		if elems == nil {
			elems = []string{}
		}
		b, _ := json.Marshal(elems)
		return op.Read(harness.Str(string(b)))
	case op.Kind == harness.KindCounter && op.F == harness.FAdd:
		d, err := strconv.ParseInt(*op.Value, 10, 64)
		if err != nil {
			return refused(op, "counter add of "+strconv.Quote(*op.Value)+", not an integer")
		}
		return mutated(ctx, op, c.c.CounterAdd(ctx, op.Key, d))
	case op.Kind == harness.KindCounter && op.F == harness.FRead:
		n, err := c.c.CounterRead(ctx, op.Key)
		if err != nil {
			return failed(op, err)
		}
		return op.Read(harness.Str(strconv.FormatInt(n, 10)))
	}
	return refused(op, "unsupported operation "+op.F+" on a "+op.Kind)
}
