package etcd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// gateway posts JSON to one member's gRPC gateway. It never retries.
type gateway struct {
	base    string
	http    *http.Client
	timeout time.Duration
}

// newGateway: timeout bounds each call (and its dial); 0 leaves the bound to
// the caller's context (client ops: the harness's --op-timeout).
func newGateway(addr string, timeout time.Duration) *gateway {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
	return &gateway{base: "http://" + addr, http: &http.Client{Transport: tr}, timeout: timeout}
}

// callError is a failed call, with what we know of whether it was sent.
type callError struct {
	sent bool   // the request may have reached the server
	code int    // gRPC code from the gateway's error body (0 if none)
	msg  string // reason
}

func (e *callError) Error() string { return e.msg }

// gRPC codes that etcd returns before a request is proposed.
const (
	codeInvalidArgument   = 3
	codeResourceExhausted = 8
	codeFailedPrecond     = 9
)

func (g *gateway) call(ctx context.Context, path string, in, out any) error {
	if g.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, g.timeout)
		defer cancel()
	}
	body, err := json.Marshal(in)
	if err != nil {
		return &callError{msg: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.base+path, bytes.NewReader(body))
	if err != nil {
		return &callError{msg: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		return &callError{sent: !notSent(err), msg: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &callError{sent: true, msg: "reading response: " + err.Error()}
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
		return &callError{sent: true, code: e.Code, msg: fmt.Sprintf("%s: %s", resp.Status, msg)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &callError{sent: true, msg: "decoding response: " + err.Error()}
		}
	}
	return nil
}

func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// certainlyNotApplied: the request never reached a member, or etcd refused
// it before proposing (bad argument, too many requests, precondition).
func certainlyNotApplied(err error) bool {
	var ce *callError
	if !errors.As(err, &ce) {
		return false
	}
	if !ce.sent {
		return true
	}
	switch ce.code {
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
	g            *gateway
	serializable bool
	pad          bool // writes and cas also compare the padding keys (padding.go)
}

// StaleByDesign is the note every completed serializable read carries in its
// Error field, so that a stale read the checker flags explains itself in the
// history, the report's op details and porcupine's tooltips.
const StaleByDesign = "serializable read: served from this member's local state without asking the leader; etcd documents that it may be stale"

// newClient: timeout 0 leaves each op's bound to the harness (--op-timeout).
func newClient(node, addr string, timeout time.Duration, serializable bool) *Client {
	return &Client{node: node, g: newGateway(addr, timeout), serializable: serializable}
}

// Close releases connections.
func (c *Client) Close() error {
	c.g.http.CloseIdleConnections()
	return nil
}

// Invoke performs one op. Classification, as for our own store: a read that
// failed changed nothing (fail); a write or cas is fail only when it
// certainly was not applied (never sent, or refused before proposal), info
// otherwise — a timed-out proposal may still commit. Nothing is retried.
func (c *Client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	out := op
	out.Node = c.node
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
			c.classify(&out, c.g.call(ctx, "/v3/kv/put", put, nil))
			return out
		}
		var r struct {
			Succeeded bool `json:"succeeded"`
		}
		err := c.g.call(ctx, "/v3/kv/txn", map[string]any{"compare": []map[string]any{padCompare()},
			"success": []map[string]any{{"requestPut": put}}}, &r)
		c.classify(&out, err)
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
			c.classify(&out, err)
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
	default:
		out.Type, out.Error = harness.Fail, "etcd client: unknown op "+op.F
	}
	return out
}

func (c *Client) classify(out *harness.Op, err error) {
	switch {
	case err == nil:
		out.Type = harness.OK
	case certainlyNotApplied(err):
		out.Type, out.Error = harness.Fail, err.Error()
	default:
		out.Type, out.Error = harness.Info, err.Error()
	}
}
