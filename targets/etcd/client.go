package etcd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/guard"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
)

// gateway posts JSON to one member's gRPC gateway. It never retries.
type gateway struct{ *httpcall.Client }

// newGateway: timeout bounds each call (and its dial); 0 leaves the bound to
// the caller's context (client ops: the harness's --op-timeout).
func newGateway(addr string, timeout time.Duration) *gateway {
	return &gateway{httpcall.New(addr, timeout)}
}

// gRPC codes that etcd returns before a request is proposed.
const (
	codeInvalidArgument   = 3
	codeResourceExhausted = 8
	codeFailedPrecond     = 9
)

// call posts in as JSON and decodes a 200 answer into out (unless nil). A
// failure is an *httpcall.Error carrying the gateway's gRPC code, if any.
func (g *gateway) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return &httpcall.Error{Msg: err.Error()}
	}
	resp, data, err := g.Do(ctx, http.MethodPost, path, bytes.NewReader(body), "application/json")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		msg := e.Message
		if msg == "" {
			msg = e.Error
		}
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
		return &httpcall.Error{Sent: true, Status: resp.StatusCode, Code: e.Code, Msg: fmt.Sprintf("%s: %s", resp.Status, msg)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &httpcall.Error{Sent: true, Msg: "decoding response: " + err.Error()}
		}
	}
	return nil
}

// get fetches path and decodes a 200 answer into out.
func (g *gateway) get(ctx context.Context, path string, out any) error {
	resp, data, err := g.Do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &httpcall.Error{Sent: true, Status: resp.StatusCode, Msg: fmt.Sprintf("GET %s: %s", path, resp.Status)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &httpcall.Error{Sent: true, Msg: "decoding response: " + err.Error()}
	}
	return nil
}

// refusedBeforeProposal: etcd turned the request down before proposing it
// (bad argument, too many requests, precondition), so it was not applied.
func refusedBeforeProposal(e *httpcall.Error) bool {
	switch e.Code {
	case codeInvalidArgument, codeResourceExhausted, codeFailedPrecond:
		return true
	}
	return false
}

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type rangeResp struct {
	Header struct {
		Revision string `json:"revision"`
	} `json:"header"`
	Kvs []kv `json:"kvs"`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}

// Client is a harness.Client for one etcd member.
type Client struct {
	node         string
	addr         string
	g            *gateway
	serializable bool
	pad          bool // writes and cas also compare the padding keys (padding.go)

	lockTTL int64      // seconds; 0: DefaultLockTTL
	lockMu  sync.Mutex // one lock op at a time (the harness never overlaps a client's ops)
	locks   *locker    // made by the first lock op
}

// StaleByDesign is the note every completed serializable read carries in its
// Error field, so that a stale read the checker flags explains itself in the
// history, the report's op details and porcupine's tooltips.
const StaleByDesign = "serializable read: served from this member's local state without asking the leader; etcd documents that it may be stale"

// newClient: timeout 0 leaves each op's bound to the harness (--op-timeout).
func newClient(node, addr string, timeout time.Duration, serializable bool) *Client {
	return &Client{node: node, addr: addr, g: newGateway(addr, timeout), serializable: serializable}
}

// Close releases connections.
func (c *Client) Close() error {
	c.lockMu.Lock()
	if c.locks != nil {
		c.locks.close()
	}
	c.lockMu.Unlock()
	c.g.Close()
	return nil
}

// Invoke performs one op. Classification, as for our own store: a read that
// failed changed nothing (fail); a write or cas is fail only when it
// certainly was not applied (never sent, or refused before proposal), info
// otherwise — a timed-out proposal may still commit. Nothing is retried.
func (c *Client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	out := op
	out.Node = c.node
	if op.Kind != "" {
		return c.setCounter(ctx, out)
	}
	switch op.F {
	case harness.FRead:
		var r rangeResp
		err := c.g.call(ctx, "/v3/kv/range", map[string]any{"key": b64(op.Key), "serializable": c.serializable}, &r)
		if err != nil {
			out.Type, out.Error = harness.Fail, err.Error()
			return out
		}
		out.Type, out.Value = harness.OK, nil
		if c.serializable {
			out.Error = StaleByDesign
		}
		if len(r.Kvs) > 0 {
			out.Value = harness.Str(unb64(r.Kvs[0].Value))
		}
	case harness.FWrite:
		if op.Value == nil {
			out.Type, out.Error = harness.Fail, "write without a value"
			return out
		}
		put := map[string]any{"key": b64(op.Key), "value": b64(*op.Value)}
		if !c.pad {
			httpcall.Classify(&out, c.g.call(ctx, "/v3/kv/put", put, nil), refusedBeforeProposal)
			return out
		}
		var r struct {
			Succeeded bool `json:"succeeded"`
		}
		err := c.g.call(ctx, "/v3/kv/txn", map[string]any{"compare": []map[string]any{padCompare()},
			"success": []map[string]any{{"requestPut": put}}}, &r)
		httpcall.Classify(&out, err, refusedBeforeProposal)
		if err == nil && !r.Succeeded {
			out.Type, out.Error = harness.Fail, "the padding compare failed (padding keys changed?): not written"
		}
	case harness.FCAS:
		if op.Value == nil || op.From == nil {
			out.Type, out.Error = harness.Fail, "cas without from/to"
			return out
		}
		var r struct {
			Succeeded bool `json:"succeeded"`
			Responses []struct {
				ResponseRange struct {
					Kvs []kv `json:"kvs"`
				} `json:"response_range"`
			} `json:"responses"`
		}
		compare := []map[string]any{{"key": b64(op.Key), "target": "VALUE", "result": "EQUAL", "value": b64(*op.From)}}
		if c.pad {
			compare = append(compare, padCompare())
		}
		req := map[string]any{
			"compare": compare,
			"success": []map[string]any{{"requestPut": map[string]any{"key": b64(op.Key), "value": b64(*op.Value)}}},
			"failure": []map[string]any{{"requestRange": map[string]any{"key": b64(op.Key)}}},
		}
		err := c.g.call(ctx, "/v3/kv/txn", req, &r)
		if err != nil {
			httpcall.Classify(&out, err, refusedBeforeProposal)
			return out
		}
		if r.Succeeded {
			out.Type = harness.OK
			return out
		}
		out.Type = harness.Fail // the comparison failed: certainly not applied
		found := "nothing"
		if len(r.Responses) > 0 && len(r.Responses[0].ResponseRange.Kvs) > 0 {
			found = fmt.Sprintf("%q", unb64(r.Responses[0].ResponseRange.Kvs[0].Value))
		}
		out.Error = "mismatch: found " + found
	case harness.FTxn:
		return c.txn(ctx, out)
	case harness.FAcquire, harness.FRelease, guard.FHold:
		return c.lockOp(ctx, out)
	default:
		out.Type, out.Error = harness.Fail, "etcd client: unknown op "+op.F
	}
	return out
}
