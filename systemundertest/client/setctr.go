package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// SetAdd is POST /set/{key}/add.
func (c *Client) SetAdd(ctx context.Context, key, elem string) error {
	_, err := c.do(ctx, http.MethodPost, c.base+"/set/"+url.PathEscape(key)+"/add", map[string]string{"element": elem}, nil, true)
	return err
}

// SetRead is GET /set/{key}: the elements (empty when absent).
func (c *Client) SetRead(ctx context.Context, key string) ([]string, error) {
	var out struct {
		Elements *[]string `json:"elements"`
	}
	if _, err := c.do(ctx, http.MethodGet, c.base+"/set/"+url.PathEscape(key), nil, &out, false); err != nil {
		return nil, err
	}
	if out.Elements == nil {
		return nil, api.NotApplied("GET /set/%s: the answer has no \"elements\"", key)
	}
	return *out.Elements, nil
}

// CounterRead is GET /counter/{key}.
func (c *Client) CounterRead(ctx context.Context, key string) (int64, error) {
	var out struct {
		Value *int64 `json:"value"`
	}
	if _, err := c.do(ctx, http.MethodGet, c.base+"/counter/"+url.PathEscape(key), nil, &out, false); err != nil {
		return 0, err
	}
	if out.Value == nil {
		return 0, api.NotApplied("GET /counter/%s: the answer has no integer \"value\"", key)
	}
	return *out.Value, nil
}

// retryPause is the pause between tries of a counter add; tryTimeout
// bounds one try, so that a try stuck on a leader that is gone leaves time
// for another to reach the next.
const (
	retryPause = 50 * time.Millisecond
	tryTimeout = 300 * time.Millisecond
)

// CounterAdd is POST /counter/{key}/add with a request id of its own. It is
// the one request this client retries: the store applies an id once, so a
// try whose answer was lost (or refused for now: no leader) is sent again,
// same id, until one is answered, ctx ends or the client's timeout passes. The add is ok if any try was;
// unknown if any try may have been applied; else certainly not applied.
// A retried add applied twice is the store's fault, not the client's.
func (c *Client) CounterAdd(ctx context.Context, key string, delta int64) error {
	return c.CounterAddID(ctx, key, delta, NewID())
}

// CounterAddID is CounterAdd with the request id given.
func (c *Client) CounterAddID(ctx context.Context, key string, delta int64, id string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout) // every try together
	defer cancel()
	u := c.base + "/counter/" + url.PathEscape(key) + "/add"
	body := api.CounterAddBody{Delta: &delta, ID: id}
	var maybe error // a try that may have been applied
	for {
		tctx, tcancel := context.WithTimeout(ctx, tryTimeout)
		code, err := c.do(tctx, http.MethodPost, u, body, nil, true)
		tcancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, api.ErrUnknown) {
			maybe = err
		}
		// 503 and lost answers pass; a malformed request (4xx) or a store
		// without counters (501) will not.
		if code != 0 && code != http.StatusServiceUnavailable {
			if maybe != nil {
				return api.Unknown("counter add %s: an earlier try may have been applied (%s); the last was refused: %s", id, reason(maybe), reason(err))
			}
			return err
		}
		select {
		case <-ctx.Done():
			if maybe != nil {
				return api.Unknown("counter add %s: no try was answered in time, and one may have been applied: %s", id, reason(maybe))
			}
			return err
		case <-time.After(retryPause):
		}
	}
}

// reason is err's text without the classification it ends with.
func reason(err error) string {
	s := err.Error()
	for _, c := range []error{api.ErrUnknown, api.ErrNotApplied} {
		for strings.HasSuffix(s, ": "+c.Error()) {
			s = strings.TrimSuffix(s, ": "+c.Error())
		}
	}
	return s
}

// NewID returns a random request id (16 bytes, hex).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
