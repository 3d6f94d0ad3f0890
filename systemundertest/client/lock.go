package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Acquire is POST /lock/{name}/acquire: the fencing token, as the decimal
// text the node sent (a number or a string; nil when it sent none). A lock
// held by another (409) is an *api.RefusedError: certainly not granted.
func (c *Client) Acquire(ctx context.Context, name, owner string, ttl time.Duration) (*string, error) {
	var out struct {
		Token json.RawMessage `json:"token"`
		Error string          `json:"error"`
	}
	code, err := c.do(ctx, http.MethodPost, c.base+"/lock/"+url.PathEscape(name)+"/acquire",
		api.AcquireBody{Owner: owner, TTLMS: ttl.Milliseconds()}, &out, true)
	if err != nil {
		return nil, err
	}
	if code == http.StatusConflict {
		return nil, api.Refused("%s", out.Error)
	}
	return tokenText(out.Token)
}

// Release is POST /lock/{name}/release with the token of the grant (nil:
// none known, sent as 0). Not the holder (409) is an *api.RefusedError.
func (c *Client) Release(ctx context.Context, name, owner string, token *string) error {
	var n uint64
	if token != nil {
		n, _ = strconv.ParseUint(*token, 10, 64)
	}
	var out struct {
		Error string `json:"error"`
	}
	code, err := c.do(ctx, http.MethodPost, c.base+"/lock/"+url.PathEscape(name)+"/release",
		api.ReleaseBody{Owner: owner, Token: n}, &out, true)
	if err == nil && code == http.StatusConflict {
		err = api.Refused("%s", out.Error)
	}
	return err
}

// tokenText reads a token sent as a JSON number or string; absent or null
// is nil. Anything else is not trusted: the grant's outcome is unknown.
func tokenText(raw json.RawMessage) (*string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, api.Unknown("acquire: bad token %s", raw)
		}
	} else {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, api.Unknown("acquire: bad token %s", raw)
		}
		s = n.String()
	}
	return &s, nil
}
