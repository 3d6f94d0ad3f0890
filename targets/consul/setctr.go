package consul

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
	"github.com/gauntlet-dev/gauntlet/targets/internal/txnplan"
)

// Sets and counters (Op.Kind).
//
//   - A set is a key per element under set/<key>/: an add PUTs
//     set/<key>/<element> (a write), a read lists the prefix's keys
//     (GET ?keys, in the read mode) and answers the JSON array of elements.
//   - A counter is the integer at counter/<key>: an add reads it, then sets
//     the sum in a /v1/txn guarded by the ModifyIndex read, again on a lost
//     race (txnplan.Update; an unknown commit is info, never retried); a
//     read reads it (absent: 0).

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
		c.put(ctx, &out, "/v1/kv/"+url.PathEscape(setPrefix+op.Key+"/"+*op.Value), "")
		return out
	case op.Kind == harness.KindSet && op.F == harness.FRead:
		pfx := setPrefix + op.Key + "/"
		path := "/v1/kv/" + url.PathEscape(pfx) + "?keys"
		if c.mode != ReadDefault {
			path += "&" + c.mode
		}
		data, _, err := c.a.do(ctx, http.MethodGet, path, "")
		var keys []string
		var ce *httpcall.Error
		switch {
		case errors.As(err, &ce) && ce.Status == http.StatusNotFound: // no element yet
		case err != nil:
			return fail(out, err.Error())
		default:
			if err := json.Unmarshal(data, &keys); err != nil {
				return fail(out, "decoding the keys: "+err.Error())
			}
		}
		elems := make([]string, 0, len(keys))
		for _, k := range keys {
			elems = append(elems, strings.TrimPrefix(k, pfx))
		}
		b, _ := json.Marshal(elems)
		done := op.Read(harness.Str(string(b)))
		done.Error = StaleNote[c.mode]
		return done
	case op.Kind == harness.KindCounter && (op.F == harness.FAdd || op.F == harness.FRead):
		return txnplan.Counter(ctx, txnStore{c}, op, txnplan.Slot{Key: counterPrefix + op.Key}, StaleNote[c.mode])
	}
	return fail(out, "consul client: unsupported operation "+op.F+" on a "+op.Kind)
}
