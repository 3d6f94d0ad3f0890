package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// recStore records what the server passed it and answers with err.
type recStore struct {
	key, value, from, to string
	stale, forwarded     bool
	withValues           bool
	cas                  CASResult
	err                  error
}

func (s *recStore) Get(ctx context.Context, key string, stale bool) (string, bool, error) {
	s.key, s.stale, s.forwarded = key, stale, Forwarded(ctx)
	return "v", true, s.err
}

func (s *recStore) Put(ctx context.Context, key, value string) error {
	s.key, s.value, s.forwarded = key, value, Forwarded(ctx)
	return s.err
}

func (s *recStore) CAS(ctx context.Context, key, from, to string) (CASResult, error) {
	s.key, s.from, s.to = key, from, to
	return s.cas, s.err
}

func (s *recStore) Status() Status { return Status{ID: "n1", Role: "leader"} }

func (s *recStore) Digest(withValues bool) Digest {
	s.withValues = withValues
	return Digest{ID: "n1", Digest: "d"}
}

func (s *recStore) Close() error { return nil }

func do(t *testing.T, h http.Handler, method, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"), "%s %s", method, path)
	var out map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out), "%s %s: %s", method, path, w.Body.String())
	return w.Code, out
}

func TestRoutes(t *testing.T) {
	st := &recStore{}
	clk := clock.NewReal()
	internal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
	})
	h := NewServer(st, ServerOptions{Clock: clk, Internal: internal})

	code, out := do(t, h, "GET", "/kv/a%2Fb?stale=true", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, map[string]any{"value": "v", "found": true}, out)
	assert.Equal(t, "a/b", st.key)
	assert.True(t, st.stale)

	code, _ = do(t, h, "PUT", "/kv/k", `{"value":"x"}`, ForwardedHeader, "n2")
	assert.Equal(t, 200, code)
	assert.Equal(t, "x", st.value)
	assert.True(t, st.forwarded)
	code, _ = do(t, h, "PUT", "/kv/k", `{"value":""}`)
	assert.Equal(t, 200, code)
	assert.False(t, st.forwarded)

	st.cas = CASResult{OK: true}
	code, out = do(t, h, "POST", "/kv/k/cas", `{"from":"a","to":"b"}`)
	assert.Equal(t, 200, code)
	assert.Equal(t, map[string]any{"ok": true}, out)
	st.cas = CASResult{OK: false, Current: "c", Found: true}
	code, out = do(t, h, "POST", "/kv/k/cas", `{"from":"a","to":"b"}`)
	assert.Equal(t, 409, code)
	assert.Equal(t, map[string]any{"ok": false, "value": "c", "found": true}, out)

	code, out = do(t, h, "GET", "/debug/status", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, "leader", out["role"])
	code, _ = do(t, h, "GET", "/debug/digest?values=true", "")
	assert.Equal(t, 200, code)
	assert.True(t, st.withValues)

	code, out = do(t, h, "POST", "/debug/clock", `{"offset_ms":-250}`)
	assert.Equal(t, 200, code)
	assert.Equal(t, -250*time.Millisecond, clk.Offset())
	_, out = do(t, h, "GET", "/debug/status", "")
	assert.Equal(t, float64(-250), out["clock_offset_ms"])

	code, out = do(t, h, "POST", "/internal/raft/messages", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, "/internal/raft/messages", out["path"])

	code, out = do(t, h, "GET", "/nothing", "")
	assert.Equal(t, 404, code)
	assert.Contains(t, out["error"], "no route")
}

func TestErrors(t *testing.T) {
	st := &recStore{}
	h := NewServer(st, ServerOptions{})
	for _, tc := range []struct{ method, path, body string }{
		{"PUT", "/kv/k", `{"value":`},
		{"PUT", "/kv/k", `{}`},
		{"PUT", "/kv/k", `{"value":1}`},
		{"POST", "/kv/k/cas", `{"from":"a"}`},
		{"POST", "/kv/k/cas", `nope`},
	} {
		code, out := do(t, h, tc.method, tc.path, tc.body)
		assert.Equal(t, 400, code, "%+v", tc)
		assert.NotEmpty(t, out["error"])
	}
	code, _ := do(t, h, "POST", "/debug/clock", `{"offset_ms":1}`)
	assert.Equal(t, 501, code, "no clock configured")

	for _, tc := range []struct {
		err  error
		code int
	}{
		{NotApplied("no leader"), 503},
		{Unknown("timeout"), 504},
		{io.EOF, 504}, // unclassified counts as maybe applied
	} {
		st.err = tc.err
		for _, r := range [][3]string{{"GET", "/kv/k", ""}, {"PUT", "/kv/k", `{"value":"v"}`}, {"POST", "/kv/k/cas", `{"from":"a","to":"b"}`}} {
			code, out := do(t, h, r[0], r[1], r[2])
			assert.Equal(t, tc.code, code, "%v %v", tc.err, r)
			assert.Equal(t, tc.err.Error(), out["error"])
		}
	}
}
