package wire

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// lockNode serves the lock routes over one table; answer, if set, replaces
// every answer with its status.
type lockNode struct {
	mu     sync.Mutex
	holder map[string]string
	token  int
	answer int
	token0 string // the token's JSON, when set
	got    []map[string]any
}

func (n *lockNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	n.got = append(n.got, in)
	w.Header().Set("Content-Type", "application/json")
	name, owner := r.PathValue("name"), in["owner"].(string)
	switch {
	case n.answer != 0:
		w.WriteHeader(n.answer)
		_, _ = w.Write([]byte(`{"error":"canned"}`))
	case r.PathValue("op") == "acquire" && n.holder[name] != "":
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":"held by ` + n.holder[name] + `"}`))
	case r.PathValue("op") == "acquire":
		n.holder[name] = owner
		n.token++
		tok, _ := json.Marshal(n.token)
		if n.token0 != "" {
			tok = []byte(n.token0)
		}
		_, _ = w.Write([]byte(`{"token":` + string(tok) + `}`))
	case n.holder[name] != owner:
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":"not the holder"}`))
	default:
		delete(n.holder, name)
		_, _ = w.Write([]byte(`{}`))
	}
}

func lockClient(t *testing.T, n *lockNode, ttl time.Duration) *Client {
	mux := http.NewServeMux()
	mux.Handle("POST /lock/{name}/{op}", n)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := NewClient("n1", srv.Listener.Addr().String(), time.Second).WithLockTTL(ttl)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func lockOp(p harness.Process, f, key string, v *string) harness.Op {
	return harness.Op{Process: p, Type: harness.Invoke, F: f, Key: key, Value: v}
}

func TestLockClient(t *testing.T) {
	n := &lockNode{holder: map[string]string{}}
	c := lockClient(t, n, 10*time.Second)
	other := lockClient(t, n, 10*time.Second)
	ctx := context.Background()

	done := c.Invoke(ctx, lockOp(3, harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, "1", *done.Value, "the token")
	assert.Equal(t, map[string]any{"owner": "p3", "ttl_ms": 10000.0}, n.got[0])

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	done = other.Invoke(short, lockOp(4, harness.FAcquire, "L", nil))
	assert.Equal(t, harness.Fail, done.Type, "held: certainly not granted, after waiting while the op had time")
	assert.Greater(t, len(n.got), 2, "it asked again while the op had time")
	assert.Contains(t, done.Error, "held by p3")

	done = c.Invoke(ctx, lockOp(3, mutex.FHold, "L", harness.Str("5")))
	assert.Equal(t, harness.OK, done.Type, done.Error)
	done = other.Invoke(ctx, lockOp(4, mutex.FHold, "L", harness.Str("5")))
	assert.Equal(t, harness.Fail, done.Type, "no lease, no work")

	done = other.Invoke(ctx, lockOp(4, harness.FRelease, "L", nil))
	assert.Equal(t, harness.Fail, done.Type, "not the holder")
	done = c.Invoke(ctx, lockOp(3, harness.FRelease, "L", nil))
	assert.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, map[string]any{"owner": "p3", "token": 1.0}, n.got[len(n.got)-1], "the release names the grant")

	n.answer = http.StatusGatewayTimeout
	done = c.Invoke(ctx, lockOp(3, harness.FAcquire, "L", nil))
	assert.Equal(t, harness.Info, done.Type, "may have been granted")
	n.answer = http.StatusServiceUnavailable
	done = c.Invoke(ctx, lockOp(5, harness.FRelease, "L", nil))
	assert.Equal(t, harness.Fail, done.Type)
}

// Guarded work that would outlast the lease is not done: the client acts
// as holder only until send time + ttl/2.
func TestLockClientStopsBeforeTheLeaseEnds(t *testing.T) {
	n := &lockNode{holder: map[string]string{}}
	c := lockClient(t, n, 400*time.Millisecond)
	ctx := context.Background()
	require.Equal(t, harness.OK, c.Invoke(ctx, lockOp(1, harness.FAcquire, "L", nil)).Type)
	done := c.Invoke(ctx, lockOp(1, mutex.FHold, "L", harness.Str("300")))
	assert.Equal(t, harness.Fail, done.Type, "300 ms of work cannot end within half a 400 ms lease")
	assert.Contains(t, done.Error, "the lease would run out")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	done = c.Invoke(cctx, lockOp(1, mutex.FHold, "L", harness.Str("10")))
	assert.Equal(t, harness.Info, done.Type, "work cut short")
}

// A token sent as a string is read as its text; a token that is neither a
// number nor a string leaves the grant unknown.
func TestLockClientTokens(t *testing.T) {
	n := &lockNode{holder: map[string]string{}, token0: `"42"`}
	c := lockClient(t, n, time.Second)
	done := c.Invoke(context.Background(), lockOp(1, harness.FAcquire, "A", nil))
	require.Equal(t, harness.OK, done.Type)
	assert.Equal(t, "42", *done.Value)
	n.token0 = `{"x":1}`
	done = c.Invoke(context.Background(), lockOp(2, harness.FAcquire, "B", nil))
	assert.Equal(t, harness.Info, done.Type)
}
