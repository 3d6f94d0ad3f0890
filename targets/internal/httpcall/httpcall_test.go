package httpcall

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func never(*Error) bool { return false }

// TestRefusedConnectionIsNotSent: a write to a closed port certainly did
// not take effect.
func TestRefusedConnectionIsNotSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, _, err = New(addr, time.Second).Do(context.Background(), http.MethodGet, "/", nil, "")
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.False(t, e.Sent)
	var op harness.Op
	Classify(&op, err, never)
	assert.Equal(t, harness.Fail, op.Type)
}

// TestTimeoutAfterSendIsInfo: a request the server received but did not
// answer in time may have taken effect; refused can still make it fail.
func TestTimeoutAfterSendIsInfo(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handler
	c := New(strings.TrimPrefix(srv.URL, "http://"), 100*time.Millisecond)
	defer c.Close()
	_, _, err := c.Do(context.Background(), http.MethodPut, "/", strings.NewReader("x"), "text/plain")
	require.Error(t, err)
	var op harness.Op
	Classify(&op, err, never)
	assert.Equal(t, harness.Info, op.Type, op.Error)
	Classify(&op, err, func(*Error) bool { return true })
	assert.Equal(t, harness.Fail, op.Type)
	assert.False(t, NotApplied(errors.New("not ours"), func(*Error) bool { return true }), "only an *Error says what happened")
}

// TestAnswerOfAnyStatus: Do returns the answer whatever its status, with
// the header the caller asked to set.
func TestAnswerOfAnyStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte(r.Header.Get("Content-Type")))
	}))
	defer srv.Close()
	resp, data, err := New(strings.TrimPrefix(srv.URL, "http://"), 0).Do(context.Background(), http.MethodPost, "/", strings.NewReader("{}"), "application/json")
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, "application/json", string(data))
	var op harness.Op
	Classify(&op, nil, never)
	assert.Equal(t, harness.OK, op.Type)
}
