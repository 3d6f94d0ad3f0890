package etcd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// gatewayStub answers every call with the given status and body after delay.
func gatewayStub(t *testing.T, status int, body string, delay time.Duration) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func invoke(t *testing.T, c *Client, f string, timeout time.Duration) harness.Op {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	op := harness.Op{Type: harness.Invoke, F: f, Key: "k", Value: harness.Str("1")}
	if f == harness.FRead {
		op.Value = nil
	}
	if f == harness.FCAS {
		op.From = harness.Str("0")
	}
	return c.Invoke(ctx, op)
}

// TestClassification: a write or cas is fail only when etcd certainly did
// not apply it; anything after the request may have been proposed is info.
func TestClassification(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		body        string
		read, write harness.Type
	}{
		{"timeout after proposal", 503, `{"code":14,"message":"etcdserver: request timed out"}`, harness.Fail, harness.Info},
		{"leader changed", 503, `{"code":14,"message":"etcdserver: leader changed"}`, harness.Fail, harness.Info},
		{"too many requests", 429, `{"code":8,"message":"etcdserver: too many requests"}`, harness.Fail, harness.Fail},
		{"invalid argument", 400, `{"code":3,"message":"etcdserver: key is not provided"}`, harness.Fail, harness.Fail},
		{"garbage", 500, `not json`, harness.Fail, harness.Info},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient("n1", gatewayStub(t, tc.status, tc.body, 0), 0, false)
			defer c.Close()
			r := invoke(t, c, harness.FRead, 5*time.Second)
			assert.Equal(t, tc.read, r.Type, r.Error)
			for _, f := range []string{harness.FWrite, harness.FCAS} {
				o := invoke(t, c, f, 5*time.Second)
				assert.Equal(t, tc.write, o.Type, "%s: %s", f, o.Error)
				assert.NotEmpty(t, o.Error, "the reason is recorded")
			}
		})
	}
}

// TestHarnessBoundsOps: the client adds no bound of its own, so an answer
// slower than the old fixed 2 s still arrives within a longer --op-timeout,
// and a write cut off by the harness's deadline is info (it was sent).
func TestHarnessBoundsOps(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 2.5 s")
	}
	c := newClient("n1", gatewayStub(t, 200, `{"header":{"revision":"5"}}`, 2500*time.Millisecond), 0, false)
	defer c.Close()
	w := invoke(t, c, harness.FWrite, 5*time.Second)
	assert.Equal(t, harness.OK, w.Type, w.Error)
	w = invoke(t, c, harness.FWrite, 300*time.Millisecond)
	assert.Equal(t, harness.Info, w.Type, w.Error)
	r := invoke(t, c, harness.FRead, 300*time.Millisecond)
	assert.Equal(t, harness.Fail, r.Type, r.Error)
}

// TestSerializableReadsSayStale: a serializable read that succeeds carries
// the sentence that says such reads may be stale by design; a linearizable
// one carries nothing.
func TestSerializableReadsSayStale(t *testing.T) {
	addr := gatewayStub(t, 200, `{"header":{"revision":"5"},"kvs":[{"key":"aw==","value":"Nw=="}]}`, 0)
	c := newClient("n1", addr, 0, true)
	defer c.Close()
	r := invoke(t, c, harness.FRead, 5*time.Second)
	require.Equal(t, harness.OK, r.Type)
	assert.Equal(t, "7", *r.Value)
	assert.Equal(t, StaleByDesign, r.Error)
	assert.Contains(t, r.String(), "may be stale")

	lin := newClient("n1", addr, 0, false)
	defer lin.Close()
	r = invoke(t, lin, harness.FRead, 5*time.Second)
	require.Equal(t, harness.OK, r.Type)
	assert.Empty(t, r.Error)
}
