package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// stubTxn is Consul's /v1/txn over an in-memory KV, as 1.15 answers it:
// get-or-empty, check-index, check-not-exists and set; a failed check rolls
// everything back with 409 and Errors. writeStatus/writeBody, if set,
// replace the answer to every transaction that writes.
type stubTxn struct {
	mu          sync.Mutex
	kv          map[string]stubEntry
	index       uint64
	queries     []string
	writes      int
	writeStatus int
	writeBody   string
}

type stubEntry struct {
	value []byte
	index uint64
}

func (s *stubTxn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []struct {
		KV struct {
			Verb, Key string
			Value     []byte
			Index     uint64
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&ops); err != nil || r.URL.Path != "/v1/txn" || r.Method != http.MethodPut {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.queries = append(s.queries, r.URL.RawQuery)
	type kvOut struct {
		Key         string
		Value       []byte
		ModifyIndex uint64
	}
	var results []map[string]kvOut
	var errs []map[string]any
	write := false
	for _, op := range ops {
		write = write || op.KV.Verb == "set"
	}
	if write {
		s.writes++
		if s.writeStatus != 0 {
			w.WriteHeader(s.writeStatus)
			fmt.Fprint(w, s.writeBody)
			return
		}
	}
	staged := map[string]stubEntry{}
	for i, op := range ops {
		e, ok := s.kv[op.KV.Key]
		switch op.KV.Verb {
		case "get-or-empty":
			results = append(results, map[string]kvOut{"KV": {Key: op.KV.Key, Value: e.value, ModifyIndex: e.index}})
		case "check-index":
			if !ok {
				errs = append(errs, map[string]any{"OpIndex": i, "What": fmt.Sprintf("failed to check index, key %q doesn't exist", op.KV.Key)})
			} else if e.index != op.KV.Index {
				errs = append(errs, map[string]any{"OpIndex": i, "What": fmt.Sprintf("failed index check for key %q, current modify index %d != %d", op.KV.Key, e.index, op.KV.Index)})
			}
		case "check-not-exists":
			if ok {
				errs = append(errs, map[string]any{"OpIndex": i, "What": fmt.Sprintf("key %q exists", op.KV.Key)})
			}
		case "set":
			staged[op.KV.Key] = stubEntry{value: op.KV.Value}
		default:
			errs = append(errs, map[string]any{"OpIndex": i, "What": fmt.Sprintf("unknown KV verb %q", op.KV.Verb)})
		}
	}
	if len(errs) > 0 {
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]any{"Results": nil, "Errors": errs})
		return
	}
	if len(staged) > 0 {
		s.index++
		for k, e := range staged {
			e.index = s.index
			s.kv[k] = e
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"Results": results, "Errors": nil})
}

func txnInvoke(mops ...harness.Mop) harness.Op {
	return harness.Op{Type: harness.Invoke, F: harness.FTxn, Txn: mops}
}

func TestTxn(t *testing.T) {
	stub := &stubTxn{kv: map[string]stubEntry{}}
	addr := serve(t, stub)
	ctx := context.Background()
	c := newClient("n1", addr, 0, ReadConsistent)
	defer c.Close()

	d := c.Invoke(ctx, txnInvoke(harness.Mop{F: harness.MRead, Key: "x", List: []string{}},
		harness.Mop{F: harness.MAppend, Key: "x", Value: harness.Str("1")},
		harness.Mop{F: harness.MRead, Key: "x", List: []string{}}))
	require.Equal(t, harness.OK, d.Type, d.Error)
	assert.Equal(t, []string{}, d.Txn[0].List)
	assert.Equal(t, []string{"1"}, d.Txn[2].List)
	assert.Equal(t, `["1"]`, string(stub.kv["list/x"].value))
	assert.Equal(t, "consistent", stub.queries[0], "the read is a read-only transaction in the read mode")
	assert.Empty(t, stub.queries[1], "the commit goes through Raft, no read mode")

	d = c.Invoke(ctx, txnInvoke(harness.Mop{F: harness.MAppend, Key: "x", Value: harness.Str("2")}))
	require.Equal(t, harness.OK, d.Type, d.Error)
	assert.Equal(t, `["1","2"]`, string(stub.kv["list/x"].value))

	// Bank: absent counts as 0; an overdraw is refused before any commit.
	d = c.Invoke(ctx, txnInvoke(harness.Mop{F: harness.MAdd, Key: "a", Value: harness.Str("-1")}))
	assert.Equal(t, harness.Fail, d.Type)
	assert.Contains(t, d.Error, "below zero")

	// Clients racing on one key: each acknowledged add counted once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := newClient("n1", addr, 0, ReadConsistent)
			defer cl.Close()
			for range 10 {
				if cl.Invoke(ctx, txnInvoke(harness.Mop{F: harness.MAdd, Key: "ctr", Value: harness.Str("1")})).Type == harness.OK {
					mu.Lock()
					acked++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	d = c.Invoke(ctx, txnInvoke(harness.Mop{F: harness.MRead, Key: "ctr"}))
	require.Equal(t, harness.OK, d.Type, d.Error)
	assert.Equal(t, strconv.Itoa(acked), *d.Txn[0].Value)
	assert.Empty(t, d.Error, "a consistent read carries no note")

	stale := newClient("n1", addr, 0, ReadStale)
	defer stale.Close()
	d = stale.Invoke(ctx, txnInvoke(harness.Mop{F: harness.MRead, Key: "ctr"}))
	require.Equal(t, harness.OK, d.Type, d.Error)
	assert.Equal(t, StaleNote[ReadStale], d.Error, "a stale read-only transaction says it may be stale")
	assert.Equal(t, "stale", stub.queries[len(stub.queries)-1])
}

// TestTxnClassification: a commit Consul certainly did not apply is fail;
// one it may have applied is info, and is not retried.
func TestTxnClassification(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   harness.Type
	}{
		{"no leader", 500, "No cluster leader", harness.Fail},
		{"rpc error", 500, "rpc error making call: EOF", harness.Info},
		{"no connection to the leader", 500, "rpc error getting client: failed to get conn: dial tcp 127.0.0.1:1->127.0.0.1:2: connect: connection refused", harness.Fail},
		{"rolled back for another reason", 409, `{"Errors":[{"OpIndex":0,"What":"value too large"}]}`, harness.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := &stubTxn{kv: map[string]stubEntry{}, writeStatus: tc.status, writeBody: tc.body}
			c := newClient("n1", serve(t, stub), 0, ReadConsistent)
			defer c.Close()
			d := c.Invoke(context.Background(), txnInvoke(harness.Mop{F: harness.MAppend, Key: "x", Value: harness.Str("1")}))
			assert.Equal(t, tc.want, d.Type, d.Error)
			assert.NotEmpty(t, d.Error)
			assert.Equal(t, 1, stub.writes, "never retried")
		})
	}
}

func TestTxnConsistency(t *testing.T) {
	for mode, want := range map[string]string{ReadConsistent: "strict-serializable", ReadDefault: "serializable", ReadStale: "serializable"} {
		assert.Equal(t, want, New(Options{ReadMode: mode}).Consistency(), mode)
	}
}
