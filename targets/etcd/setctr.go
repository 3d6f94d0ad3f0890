package etcd

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
	"github.com/gauntlet-dev/gauntlet/targets/internal/txnplan"
)

// Sets and counters (Op.Kind).
//
//   - A set is a key per element under set/<key>/: an add puts
//     set/<key>/<element> (a write: fail only when certainly not applied),
//     a read is one range over the prefix (linearizable unless
//     --etcd-serializable-reads), answered as the JSON array of elements.
//   - A counter is the integer at counter/<key>: an add reads it, then puts
//     the sum in a Txn guarded by the mod revision read, again on a lost race
//     (txnplan.Update; an unknown commit is info, never retried); a read
//     reads it (absent: 0).

const (
	setPrefix     = "set/"
	counterPrefix = "counter/"
)

func (c *Client) setCounter(ctx context.Context, op harness.Op) harness.Op {
	out := op
	switch {
	case op.F == harness.FAdd && op.Value == nil:
		return fail(out, op.Kind+" add without a value")
	case op.Kind == harness.KindSet && op.F == harness.FAdd:
		put := map[string]any{"key": b64(setPrefix + op.Key + "/" + *op.Value), "value": ""}
		httpcall.Classify(&out, c.g.call(ctx, "/v3/kv/put", put, nil), refusedBeforeProposal)
		return out
	case op.Kind == harness.KindSet && op.F == harness.FRead:
		pfx := setPrefix + op.Key + "/"
		var r rangeResp
		err := c.g.call(ctx, "/v3/kv/range", map[string]any{"key": b64(pfx), "range_end": b64(prefixEnd(pfx)),
			"keys_only": true, "serializable": c.serializable}, &r)
		if err != nil {
			return fail(out, err.Error())
		}
		elems := make([]string, 0, len(r.Kvs))
		for _, kv := range r.Kvs {
			elems = append(elems, strings.TrimPrefix(unb64(kv.Key), pfx))
		}
		b, _ := json.Marshal(elems)
		done := op.Read(harness.Str(string(b)))
		done.Error = c.note()
		return done
	case op.Kind == harness.KindCounter && (op.F == harness.FAdd || op.F == harness.FRead):
		return txnplan.Counter(ctx, txnStore{c}, op, txnplan.Slot{Key: counterPrefix + op.Key}, c.note())
	}
	return fail(out, "etcd client: unsupported operation "+op.F+" on a "+op.Kind)
}

// note is what a completed read says of itself: a serializable one that
// it may be stale.
func (c *Client) note() string {
	if c.serializable {
		return StaleByDesign
	}
	return ""
}
