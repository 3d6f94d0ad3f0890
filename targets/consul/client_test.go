package consul

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// stubKV is a one-key Consul KV: GET answers the entry (or 404), PUT
// writes, honouring ?cas=<index> as Consul does. putStatus/putBody, if set,
// replace every PUT's answer.
type stubKV struct {
	mu        sync.Mutex
	value     *string
	index     uint64
	queries   []string
	putStatus int
	putBody   string
}

func (s *stubKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, r.Method+" "+r.URL.RequestURI())
	switch r.Method {
	case http.MethodGet:
		if s.value == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `[{"Key":"k","Value":%q,"ModifyIndex":%d}]`, base64.StdEncoding.EncodeToString([]byte(*s.value)), s.index)
	case http.MethodPut:
		if s.putStatus != 0 {
			w.WriteHeader(s.putStatus)
			fmt.Fprint(w, s.putBody)
			return
		}
		if c := r.URL.Query().Get("cas"); c != "" && c != fmt.Sprint(s.index) {
			fmt.Fprint(w, "false")
			return
		}
		v := readAll(r)
		s.value, s.index = &v, s.index+7
		fmt.Fprint(w, "true")
	}
}

func readAll(r *http.Request) string {
	var sb strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := r.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return sb.String()
		}
	}
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func do(t *testing.T, c *Client, op harness.Op) harness.Op {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	op.Type, op.Key = harness.Invoke, "k"
	return c.Invoke(ctx, op)
}

func TestReadModesAskConsulForThem(t *testing.T) {
	for mode, query := range map[string]string{ReadConsistent: "GET /v1/kv/k?consistent", ReadDefault: "GET /v1/kv/k", ReadStale: "GET /v1/kv/k?stale"} {
		s := &stubKV{}
		c := newClient("n1", serve(t, s), 0, mode)
		got := do(t, c, harness.Op{F: harness.FRead})
		assert.Equal(t, harness.OK, got.Type, mode)
		assert.Nil(t, got.Value, "404 is an absent key")
		assert.Equal(t, StaleNote[mode], got.Error, "weak modes say so on every read")
		require.Equal(t, []string{query}, s.queries)
	}
}

// TestCASByModifyIndex: cas(from, to) reads the index of the value held
// (consistently, whatever the read mode), fails without writing when it is
// not `from`, and otherwise writes with ?cas=<that index>; Consul's "false"
// (modified since) is a fail.
func TestCASByModifyIndex(t *testing.T) {
	s := &stubKV{}
	c := newClient("n1", serve(t, s), 0, ReadStale)
	got := do(t, c, harness.Op{F: harness.FCAS, From: harness.Str("0"), Value: harness.Str("1")})
	assert.Equal(t, harness.Fail, got.Type)
	assert.Equal(t, "mismatch: found nothing", got.Error)

	require.Equal(t, harness.OK, do(t, c, harness.Op{F: harness.FWrite, Value: harness.Str("0")}).Type)
	got = do(t, c, harness.Op{F: harness.FCAS, From: harness.Str("5"), Value: harness.Str("1")})
	assert.Equal(t, harness.Fail, got.Type)
	assert.Equal(t, `mismatch: found "0"`, got.Error)

	got = do(t, c, harness.Op{F: harness.FCAS, From: harness.Str("0"), Value: harness.Str("1")})
	assert.Equal(t, harness.OK, got.Type)
	assert.Equal(t, "1", *s.value)
	assert.Equal(t, []string{"GET /v1/kv/k?consistent", "PUT /v1/kv/k", "GET /v1/kv/k?consistent",
		"GET /v1/kv/k?consistent", "PUT /v1/kv/k?cas=7"}, s.queries)

	// Modified between the read and the cas: Consul answers false.
	s.putStatus, s.putBody = http.StatusOK, "false"
	got = do(t, c, harness.Op{F: harness.FCAS, From: harness.Str("1"), Value: harness.Str("2")})
	assert.Equal(t, harness.Fail, got.Type)
	assert.Contains(t, got.Error, "modified since index 14")
}

// TestClassification: a write is fail only when Consul certainly did not
// apply it; anything after it may have reached Raft is info.
func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   harness.Type
	}{
		{500, "No cluster leader", harness.Fail},
		{500, "raft apply failed: leadership lost while committing log", harness.Info},
		{500, "rpc error making call: EOF", harness.Info},
		{500, "rpc error getting client: failed to get conn: dial tcp 127.0.0.1:1->127.0.0.1:2: connect: connection refused", harness.Fail},
		{500, "rpc error getting client: failed to get conn: rpc error: lead thread didn't get connection", harness.Fail},
		{400, "Request body too large", harness.Fail},
		{413, "Value exceeds 524288 byte limit", harness.Fail},
		{200, "maybe", harness.Info},
	} {
		s := &stubKV{putStatus: tc.status, putBody: tc.body}
		c := newClient("n1", serve(t, s), 0, ReadConsistent)
		got := do(t, c, harness.Op{F: harness.FWrite, Value: harness.Str("1")})
		assert.Equal(t, tc.want, got.Type, "%d %s", tc.status, tc.body)
		assert.Contains(t, got.Error, tc.body)
	}
}

func TestUnreachableAndTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c := newClient("n1", addr, 0, ReadConsistent)
	assert.Equal(t, harness.Fail, do(t, c, harness.Op{F: harness.FWrite, Value: harness.Str("1")}).Type, "refused: never sent")

	slow := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		readAll(r) // the server notices a gone client only once the body is read
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	c = newClient("n1", slow, 0, ReadConsistent)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	got := c.Invoke(ctx, harness.Op{Type: harness.Invoke, F: harness.FWrite, Key: "k", Value: harness.Str("1")})
	assert.Equal(t, harness.Info, got.Type, "sent, unanswered: may have been applied")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	got = c.Invoke(ctx2, harness.Op{Type: harness.Invoke, F: harness.FRead, Key: "k"})
	assert.Equal(t, harness.Fail, got.Type, "a read changes nothing")
}
