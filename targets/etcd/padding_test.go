package etcd

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// TestSetupWritesPadding: with PadKeys, the Setup step writes the padding
// keys through the first member in txns of at most maxTxnOps puts, and
// clients compare them; without, Setup calls no member and clients do not.
func TestSetupWritesPadding(t *testing.T) {
	var keys []string
	var txns []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Success []struct {
				RequestPut struct {
					Key string `json:"key"`
				} `json:"requestPut"`
			} `json:"success"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		assert.Equal(t, "/v3/kv/txn", r.URL.Path)
		txns = append(txns, len(req.Success))
		for _, op := range req.Success {
			keys = append(keys, unb64(op.RequestPut.Key))
		}
		_, _ = w.Write([]byte(`{"succeeded":true}`))
	}))
	t.Cleanup(srv.Close)
	addrs := map[string]string{"n1": strings.TrimPrefix(srv.URL, "http://"), "n2": "127.0.0.1:1"}
	env := harness.SetupEnv{Nodes: []harness.Node{harness.NodeAt("n1", addrs["n1"]), harness.NodeAt("n2", addrs["n2"])}}

	s := New(Options{PadKeys: 300})
	require.NoError(t, s.Setup(context.Background(), env))
	assert.Equal(t, []int{maxTxnOps, maxTxnOps, 300 - 2*maxTxnOps}, txns)
	require.Len(t, keys, 300)
	assert.Equal(t, padPrefix+"000000", keys[0])
	assert.Equal(t, padPrefix+"000299", keys[299])
	c, err := s.NewClient(env.Nodes[1])
	require.NoError(t, err)
	assert.True(t, c.(*Client).pad)

	txns = nil
	s = New(Options{})
	require.NoError(t, s.Setup(context.Background(), env))
	assert.Empty(t, txns, "no padding, no call")
	c, err = s.NewClient(env.Nodes[0])
	require.NoError(t, err)
	assert.False(t, c.(*Client).pad)
}
