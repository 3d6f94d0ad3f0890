// Package httpcall sends requests to one server's HTTP API, each exactly
// once, and classifies how a write ended. A history is only checkable if
// every failed write says whether it may have taken effect, so nothing here
// retries and every failure records whether the request was sent.
package httpcall

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Client calls one server. It never retries.
type Client struct {
	base    string
	http    *http.Client
	timeout time.Duration
}

// New: timeout bounds each call (and its dial); 0 leaves the bound to the
// caller's context (client ops: the harness's --op-timeout).
func New(addr string, timeout time.Duration) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{base: "http://" + addr, http: &http.Client{Transport: tr}, timeout: timeout}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Error is a failed call, with what is known of whether it was sent.
type Error struct {
	Sent   bool   // the request may have reached the server
	Status int    // HTTP status (0 if none)
	Code   int    // the server's own error code from its answer (0 if none)
	Msg    string // reason
}

func (e *Error) Error() string { return e.Msg }

// Do sends one request to the path and reads the answer, of whatever
// status: judging the status is the caller's, as each API words its errors
// differently. contentType is set when not empty. A failure before a whole
// answer arrived is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, []byte, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, nil, &Error{Msg: err.Error()}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &Error{Sent: !notSent(err), Msg: err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, &Error{Sent: true, Status: resp.StatusCode, Msg: "reading response: " + err.Error()}
	}
	return resp, data, nil
}

// notSent: the connection was never made, so the server saw nothing.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// NotApplied reports whether a call that ended with err certainly did not
// take effect: it was never sent, or refused says the server turned it down
// before acting on it.
func NotApplied(err error, refused func(*Error) bool) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return !e.Sent || refused(e)
}

// Classify records how a write ended: ok on nil; fail when NotApplied;
// info otherwise, since a write that timed out after it was sent may still
// take effect.
func Classify(out *harness.Op, err error, refused func(*Error) bool) {
	switch {
	case err == nil:
		out.Type = harness.OK
	case NotApplied(err, refused):
		out.Type, out.Error = harness.Fail, err.Error()
	default:
		out.Type, out.Error = harness.Info, err.Error()
	}
}
