package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/convergence"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// memberStub answers range and status like an etcd member at revision
// rev whose key k1 was last modified at revision mods[at] as of revision at.
func memberStub(t *testing.T, rev int64, mods map[int64]int64) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v3/kv/range":
			var req struct{ Revision string }
			require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			at := rev
			if req.Revision != "" {
				fmt.Sscan(req.Revision, &at)
			}
			if at > rev {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"code":11,"message":"etcdserver: mvcc: required revision is a future revision"}`)
				return
			}
			fmt.Fprintf(w, `{"header":{"revision":"%d"},"kvs":[{"key":%q,"value":%q,"mod_revision":"%d"}]}`, rev, b64("k1"), b64("7"), mods[at])
		case "/v3/maintenance/status":
			fmt.Fprintf(w, `{"header":{"revision":"%d"}}`, rev)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func digests(t *testing.T, s *System, addrs ...string) []harness.Digest {
	nodes := make([]harness.Node, len(addrs))
	for i, a := range addrs {
		nodes[i] = harness.NodeAt(fmt.Sprintf("n%d", i+1), a)
	}
	require.NoError(t, s.Converge(context.Background(), nodes, nil))
	var ds []harness.Digest
	for i, n := range nodes {
		d, err := s.Digest(context.Background(), n)
		require.NoError(t, err)
		d.Node = fmt.Sprintf("n%d", i+1)
		ds = append(ds, d)
	}
	return ds
}

// TestDivergedHistoryIsNamed: #13766's shape — a member that skipped an
// entry holds the same keys and values but a lower revision and another
// history. The convergence checker names the members, the revision they
// are compared at and the state hashes.
func TestDivergedHistoryIsNamed(t *testing.T) {
	good := map[int64]int64{9: 9, 10: 10}
	skipped := map[int64]int64{9: 8} // k1=7 came one revision earlier: an entry was skipped
	s := New(Options{})
	ds := digests(t, s, memberStub(t, 10, good), memberStub(t, 10, good), memberStub(t, 9, skipped))
	assert.Regexp(t, "^r9/[0-9a-f]{8}$", ds[2].Values[KeyState])
	assert.NotEqual(t, ds[0].Values[KeyState], ds[2].Values[KeyState])
	res := convergence.New().Check(context.Background(), harness.CheckInput{Digests: ds})
	require.Equal(t, harness.Invalid, res.Validity, res.Summary)
	assert.Contains(t, res.Summary, "2 of 3 keys diverge")
	var texts []string
	for _, a := range res.Anomalies {
		texts = append(texts, a.Explanation)
	}
	all := strings.Join(texts, "\n")
	assert.Contains(t, all, "replicas of etcd:state@minrev differ after recovery: ")
	assert.Contains(t, all, "n1,n2 hold "+ds[0].Values[KeyState])
	assert.Contains(t, all, "n3 hold "+ds[2].Values[KeyState])
	assert.Contains(t, all, "replicas of etcd:revision differ after recovery: n1,n2 hold 10; n3 hold 9")

	// The same history everywhere: converged, also when compared below the top.
	ds = digests(t, s, memberStub(t, 10, good), memberStub(t, 9, good))
	assert.Equal(t, ds[0].Values[KeyState], ds[1].Values[KeyState])
}

// TestPaddedOpsCompareThePadding: with padding, a write is a txn whose
// only compare covers the padding range, a cas has it besides its value
// compare, and a txn that did not succeed is a fail, never an ok.
func TestPaddedOpsCompareThePadding(t *testing.T) {
	var paths []string
	var compares [][]map[string]any
	succeeded := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Compare []map[string]any `json:"compare"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		paths, compares = append(paths, r.URL.Path), append(compares, req.Compare)
		fmt.Fprintf(w, `{"succeeded":%v}`, succeeded)
	}))
	t.Cleanup(srv.Close)
	c := newClient("n1", strings.TrimPrefix(srv.URL, "http://"), 0, false)
	c.pad = true
	w := c.Invoke(context.Background(), harness.Op{Type: harness.Invoke, F: harness.FWrite, Key: "k", Value: harness.Str("1")})
	assert.Equal(t, harness.OK, w.Type)
	cas := c.Invoke(context.Background(), harness.Op{Type: harness.Invoke, F: harness.FCAS, Key: "k", From: harness.Str("1"), Value: harness.Str("2")})
	assert.Equal(t, harness.OK, cas.Type)
	require.Equal(t, []string{"/v3/kv/txn", "/v3/kv/txn"}, paths)
	assert.Len(t, compares[0], 1)
	assert.Len(t, compares[1], 2)
	for _, cmp := range []map[string]any{compares[0][0], compares[1][1]} {
		assert.Equal(t, b64(padPrefix), cmp["key"])
		assert.Equal(t, b64(padEnd), cmp["range_end"])
		assert.Equal(t, "GREATER", cmp["result"])
		assert.Equal(t, "-1", cmp["version"])
	}
	succeeded = false
	w = c.Invoke(context.Background(), harness.Op{Type: harness.Invoke, F: harness.FWrite, Key: "k", Value: harness.Str("3")})
	assert.Equal(t, harness.Fail, w.Type)
}
