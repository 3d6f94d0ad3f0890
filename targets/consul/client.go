package consul

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/guard"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
)

// api calls one agent's HTTP API. It never retries.
type api struct{ *httpcall.Client }

// newAPI: timeout bounds each call (and its dial); 0 leaves the bound to the
// caller's context (client ops: the harness's --op-timeout).
func newAPI(addr string, timeout time.Duration) *api {
	return &api{httpcall.New(addr, timeout)}
}

// do sends one request and returns the body of a 200 answer, the
// X-Consul-Index header, or an *httpcall.Error. A 404 is returned as an
// error with status 404 (the KV API's "no such key").
func (a *api) do(ctx context.Context, method, path, body string) ([]byte, uint64, error) {
	var rd io.Reader
	if method == http.MethodPut {
		rd = strings.NewReader(body)
	}
	resp, data, err := a.Do(ctx, method, path, rd, "")
	if err != nil {
		return nil, 0, err
	}
	index, _ := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
	if resp.StatusCode != http.StatusOK {
		return nil, index, &httpcall.Error{Sent: true, Status: resp.StatusCode,
			Msg: fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	return data, index, nil
}

func (a *api) getJSON(ctx context.Context, path string, out any) error {
	data, _, err := a.do(ctx, http.MethodGet, path, "")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &httpcall.Error{Sent: true, Msg: "decoding response: " + err.Error()}
	}
	return nil
}

// kvEntry is the part of Consul's KV answer we use.
type kvEntry struct {
	Key         string
	Value       string // base64; empty for an empty value
	ModifyIndex uint64
}

// getKV reads KV entries; a missing key (404) is no entries and no error.
func (a *api) getKV(ctx context.Context, path string, out *[]kvEntry) (uint64, error) {
	data, index, err := a.do(ctx, http.MethodGet, path, "")
	var ce *httpcall.Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		*out = nil
		return index, nil
	}
	if err != nil {
		return index, err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return index, &httpcall.Error{Sent: true, Msg: "decoding response: " + err.Error()}
	}
	return index, nil
}

// noLeader is the body Consul answers when no leader is known. Consul
// returns it only when it never handed the write to Raft: its own RPC
// forwarding retries on exactly this error "since no state could have been
// changed" (agent/consul/rpc.go, canRetry, v1.15.4).
const noLeader = "No cluster leader"

// noConn prefixes the error of an RPC the server could not forward to the
// leader because it got no connection to it (agent/pool/pool.go, rpc, in
// v1.15.4): the request was never sent. Forwarding retries only errors
// that change nothing (no leader, rate limits: rpc.go, canRetry), so no
// earlier attempt was sent either.
const noConn = "rpc error getting client: "

// refused: Consul refused the request as malformed (4xx), answered that no
// leader was known, or could not reach the leader to forward it; in every
// case it was not applied.
func refused(e *httpcall.Error) bool {
	switch {
	case e.Status >= 400 && e.Status < 500:
		return true
	case e.Status == http.StatusInternalServerError && strings.HasSuffix(e.Msg, ": "+noLeader):
		return true
	case e.Status == http.StatusInternalServerError && strings.Contains(e.Msg, ": "+noConn):
		return true
	}
	return false
}

// StaleNote is the note every completed read of a weak mode carries in its
// Error field, so that a stale read the checker flags explains itself in
// the history and the report.
var StaleNote = map[string]string{
	ReadStale:   "stale read: answered by this server from its own state; Consul documents that it may be arbitrarily stale",
	ReadDefault: "default-mode read: answered by the leader without confirming leadership; Consul documents a window around leader changes in which it may be stale",
}

// Client is a harness.Client for one agent.
type Client struct {
	node string
	a    *api
	mode string

	sessionTTL, lockDelay time.Duration // 0: Consul's least TTL, its default lock-delay (newLocker)
	lockMu                sync.Mutex    // one lock op at a time
	locks                 *locker       // made by the first lock op
}

func newClient(node, addr string, timeout time.Duration, mode string) *Client {
	return &Client{node: node, a: newAPI(addr, timeout), mode: mode}
}

// Close releases connections.
func (c *Client) Close() error {
	c.lockMu.Lock()
	if c.locks != nil {
		c.locks.dropSession(true) // the run is over for this client: free its locks
	}
	c.lockMu.Unlock()
	c.a.Close()
	return nil
}

// keyPath is the KV path of a key with the read mode's query parameter.
func keyPath(key, mode string) string {
	p := "/v1/kv/" + url.PathEscape(key)
	if mode != ReadDefault {
		p += "?" + mode
	}
	return p
}

// Invoke performs one op, sent once. A failed read changed nothing (fail);
// a write or cas is fail only when certainly not applied, info otherwise.
func (c *Client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	out := op
	out.Node = c.node
	if op.Kind != "" {
		return c.setCounter(ctx, out)
	}
	switch op.F {
	case harness.FRead:
		e, err := c.read(ctx, op.Key, c.mode)
		if err != nil {
			out.Type, out.Error = harness.Fail, err.Error()
			return out
		}
		out.Type, out.Value, out.Error = harness.OK, nil, StaleNote[c.mode]
		if e != nil {
			out.Value = harness.Str(e.value())
		}
	case harness.FWrite:
		if op.Value == nil {
			out.Type, out.Error = harness.Fail, "write without a value"
			return out
		}
		c.put(ctx, &out, keyPath(op.Key, ReadDefault), *op.Value)
	case harness.FCAS:
		c.cas(ctx, &out)
	case harness.FTxn:
		return c.txn(ctx, out)
	case harness.FAcquire, harness.FRelease, guard.FHold:
		return c.lockOp(ctx, out)
	default:
		out.Type, out.Error = harness.Fail, "consul client: unknown op "+op.F
	}
	return out
}

func (e *kvEntry) value() string {
	b, err := base64.StdEncoding.DecodeString(e.Value)
	if err != nil {
		return e.Value
	}
	return string(b)
}

// read returns the key's entry, nil if absent.
func (c *Client) read(ctx context.Context, key, mode string) (*kvEntry, error) {
	var es []kvEntry
	if _, err := c.a.getKV(ctx, keyPath(key, mode), &es); err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, nil
	}
	return &es[0], nil
}

// cas maps cas(from, to) onto Consul's check-and-set, which compares the
// key's ModifyIndex, not its value: a consistent read finds the index of
// the value held; if that value is not `from` the op fails without writing;
// otherwise PUT ?cas=<index> writes `to` only if the key was not modified
// since — so, when it succeeds, the value it replaced was `from`.
func (c *Client) cas(ctx context.Context, out *harness.Op) {
	if out.Value == nil || out.From == nil {
		out.Type, out.Error = harness.Fail, "cas without from/to"
		return
	}
	e, err := c.read(ctx, out.Key, ReadConsistent)
	if err != nil {
		out.Type, out.Error = harness.Fail, "cas: reading the index: "+err.Error()
		return
	}
	if e == nil || e.value() != *out.From {
		found := "nothing"
		if e != nil {
			found = strconv.Quote(e.value())
		}
		out.Type, out.Error = harness.Fail, "mismatch: found "+found
		return
	}
	c.put(ctx, out, keyPath(out.Key, ReadDefault)+"?cas="+strconv.FormatUint(e.ModifyIndex, 10), *out.Value)
	if out.Type == harness.Fail && out.Error == "false" {
		out.Error = fmt.Sprintf("cas: key modified since index %d (Consul answered false)", e.ModifyIndex)
	}
}

// put writes and classifies: "true" ok; "false" (a cas whose index no
// longer matched; Raft applied it as a no-op) fail; errors fail when never
// sent or refused, info otherwise.
func (c *Client) put(ctx context.Context, out *harness.Op, path, value string) {
	data, _, err := c.a.do(ctx, http.MethodPut, path, value)
	if err != nil {
		httpcall.Classify(out, err, refused)
		return
	}
	switch answer := strings.TrimSpace(string(data)); answer {
	case "true":
		out.Type = harness.OK
	case "false":
		out.Type, out.Error = harness.Fail, "false"
	default:
		out.Type, out.Error = harness.Info, "unexpected answer: "+answer
	}
}
