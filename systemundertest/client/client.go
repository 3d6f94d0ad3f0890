// Package client is the Go client of kvnode's HTTP API. It maps every response
// to the api package's classification: nil (it took effect / the read is
// true), an error wrapping api.ErrNotApplied (it certainly did not), or one
// wrapping api.ErrUnknown (it may have). Requests are never retried here: a
// retried write that may have been applied would create anomalies that are
// not the server's.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Client talks to one kvnode.
type Client struct {
	base    string
	http    *http.Client
	timeout time.Duration
}

// New returns a client for the node at addr (host:port). timeout bounds each
// request (0 = 2s).
func New(addr string, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	tr := &http.Transport{
		DialContext:         env.ContextDialer(timeout), // the harness's world: the OS's, or a simulation's
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{base: "http://" + addr, http: &http.Client{Transport: tr}, timeout: timeout}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

type valueBody struct {
	Value string `json:"value"`
	Found bool   `json:"found"`
}

// Get reads key. stale=true lets the node answer from its local state.
func (c *Client) Get(ctx context.Context, key string, stale bool) (string, bool, error) {
	u := c.base + "/kv/" + url.PathEscape(key)
	if stale {
		u += "?stale=true"
	}
	var out valueBody
	_, err := c.do(ctx, http.MethodGet, u, nil, &out, false)
	return out.Value, out.Found, err
}

// Put writes key=value.
func (c *Client) Put(ctx context.Context, key, value string) error {
	_, err := c.do(ctx, http.MethodPut, c.base+"/kv/"+url.PathEscape(key), map[string]string{"value": value}, nil, true)
	return err
}

// CAS sets key to to if it currently holds from.
func (c *Client) CAS(ctx context.Context, key, from, to string) (api.CASResult, error) {
	var out struct {
		OK    bool   `json:"ok"`
		Value string `json:"value"`
		Found bool   `json:"found"`
	}
	code, err := c.do(ctx, http.MethodPost, c.base+"/kv/"+url.PathEscape(key)+"/cas", map[string]string{"from": from, "to": to}, &out, true)
	if err != nil {
		return api.CASResult{}, err
	}
	if code == http.StatusConflict {
		return api.CASResult{OK: false, Current: out.Value, Found: out.Found}, nil
	}
	return api.CASResult{OK: out.OK}, nil
}

// Status is GET /debug/status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var s api.Status
	_, err := c.do(ctx, http.MethodGet, c.base+"/debug/status", nil, &s, false)
	return s, err
}

// Digest is GET /debug/digest.
func (c *Client) Digest(ctx context.Context) (api.Digest, error) {
	var d api.Digest
	_, err := c.do(ctx, http.MethodGet, c.base+"/debug/digest?values=true", nil, &d, false)
	return d, err
}

// SetClock is POST /debug/clock.
func (c *Client) SetClock(ctx context.Context, offset time.Duration) error {
	_, err := c.do(ctx, http.MethodPost, c.base+"/debug/clock", map[string]int64{"offset_ms": offset.Milliseconds()}, nil, false)
	return err
}

// do performs one request. mutating says whether a failure after the request
// was sent means "unknown" (writes) rather than "not applied" (reads, which
// change nothing either way). It returns the HTTP status for 2xx and 409,
// and for a refusal (503, 4xx, 501) with its error.
func (c *Client) do(ctx context.Context, method, u string, in, out any, mutating bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, api.NotApplied("encode request: %v", err)
		}
		body = bytes.NewReader(b)
	}
	// wrote flips once the whole request is on the wire; until then the
	// server cannot have acted on it (it reads the whole body first).
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, api.NotApplied("build request: %v", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if !mutating || !wrote.Load() || notSent(err) {
			return 0, api.NotApplied("%s %s: %v", method, u, err)
		}
		return 0, api.Unknown("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	failed := func(format string, args ...any) error {
		if mutating {
			return api.Unknown(format, args...)
		}
		return api.NotApplied(format, args...)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusConflict:
		if rerr != nil {
			return 0, failed("%s %s: read response: %v", method, u, rerr)
		}
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return 0, failed("%s %s: decode response: %v", method, u, err)
			}
		}
		return resp.StatusCode, nil
	case http.StatusServiceUnavailable, http.StatusBadRequest, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusNotImplemented:
		// The server refused before doing anything.
		return resp.StatusCode, api.NotApplied("%s %s: %s: %s", method, u, resp.Status, errorText(data))
	default: // 504 and anything unexpected (500 after a panic, a proxy's 502)
		return 0, failed("%s %s: %s: %s", method, u, resp.Status, errorText(data))
	}
}

// errorText extracts {"error": "..."} or returns the raw body.
func errorText(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(bytes.TrimSpace(data))
}

// notSent reports errors that prove the request never reached the server.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
