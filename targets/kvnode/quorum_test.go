package kvnode

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/quorum"
)

// A quorum replica that holds no key still reports per key, so convergence
// is compared per key and not by whole digests.
func TestQuorumDigestOfAnEmptyReplica(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"n4","digest":"e3b0","applied":0,"keys":0}`))
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	d, err := harness.DigestOf(context.Background(), New("quorum"), harness.NodeAt("n1", addr))
	require.NoError(t, err)
	assert.NotNil(t, d.Values)
	assert.Empty(t, d.Values)

	d, err = harness.DigestOf(context.Background(), New("raft"), harness.NodeAt("n1", addr))
	require.NoError(t, err)
	assert.Nil(t, d.Values, "raft compares whole digests")
}

// Converge retries a node's repair pass until it succeeds (a restarted
// replica may still be opening), and gives up when ctx ends.
func TestQuorumConvergeRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != quorum.RepairRoute || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"keys":1,"failed":1,"errors":["repair r: replica n2 is unreachable"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"keys":1,"repaired":1}`))
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	cv := New("quorum").(harness.Converger)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, cv.Converge(ctx, []harness.Node{harness.NodeAt("n1", addr)}, nil))
	assert.EqualValues(t, 3, calls.Load())

	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := cv.Converge(ctx, []harness.Node{harness.NodeAt("n1", "127.0.0.1:1")}, nil)
	require.Error(t, err, "a node that never answers fails the pass")
}
