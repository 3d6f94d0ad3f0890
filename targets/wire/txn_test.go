package wire

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// node answers POST /txn with a canned status and body, and keeps the
// request it got.
func node(t *testing.T, code int, body string) (*Client, *string) {
	t.Helper()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c := NewClient("n1", srv.Listener.Addr().String(), time.Second)
	t.Cleanup(func() { _ = c.Close() })
	return c, &got
}

func txnOp(mops ...harness.Mop) harness.Op {
	return harness.Op{Process: 3, Type: harness.Invoke, F: harness.FTxn, Txn: mops}
}

var (
	appendX  = harness.Mop{F: harness.MAppend, Key: "x", Value: harness.Str("4")}
	readXs   = harness.Mop{F: harness.MRead, Key: "x", List: []string{}}
	readY    = harness.Mop{F: harness.MRead, Key: "y"}
	readOnly = txnOp(readXs, readY)
)

func TestTxnFillsReads(t *testing.T) {
	c, got := node(t, 200, `{"txn": [["append","x","4"],["r","x",["1",4]],["r","y",7]]}`)
	inv := txnOp(appendX, readXs, readY)
	done := c.Invoke(context.Background(), inv)
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.JSONEq(t, `{"txn": [["append","x","4"],["r","x",[]],["r","y",null]]}`, *got, "a list read asks for a list")
	assert.Equal(t, []string{"1", "4"}, done.Txn[1].List)
	assert.Equal(t, "7", *done.Txn[2].Value)
	assert.Empty(t, inv.Txn[1].List, "the invocation is untouched")
	assert.Nil(t, inv.Txn[2].Value)

	c, _ = node(t, 200, `{"txn": [["r","x",null],["r","y",null]]}`)
	done = c.Invoke(context.Background(), readOnly)
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, []string{}, done.Txn[0].List, "an absent list reads as empty")
	assert.Nil(t, done.Txn[1].Value)
}

func TestTxnOutcomes(t *testing.T) {
	for _, c := range []struct {
		name string
		code int
		body string
		op   harness.Op
		want harness.Type
	}{
		{"refused as a whole", 409, `{"error": "add a: below zero"}`, txnOp(appendX), harness.Fail},
		{"certainly not applied", 503, `{"error": "no leader"}`, txnOp(appendX), harness.Fail},
		{"may have been applied", 504, `{"error": "timeout"}`, txnOp(appendX), harness.Info},
		{"a read-only transaction changed nothing", 504, `{"error": "timeout"}`, readOnly, harness.Fail},
		{"no transactions here", 501, `{"error": "none"}`, txnOp(appendX), harness.Fail},
		{"another transaction answered", 200, `{"txn": [["append","z","4"]]}`, txnOp(appendX), harness.Info},
		{"too few micro-ops", 200, `{"txn": []}`, txnOp(appendX), harness.Info},
		{"a list for a register", 200, `{"txn": [["r","x",[]],["r","y",["1"]]]}`, readOnly, harness.Fail},
		{"a value for a list", 200, `{"txn": [["r","x","1"],["r","y",null]]}`, readOnly, harness.Fail},
		{"not JSON", 200, `<html>`, txnOp(appendX), harness.Info},
	} {
		cl, _ := node(t, c.code, c.body)
		done := cl.Invoke(context.Background(), c.op)
		assert.Equal(t, c.want, done.Type, "%s: %s", c.name, done.Error)
		assert.NotEmpty(t, done.Error, c.name)
	}
	cl, _ := node(t, 200, `{}`)
	assert.Equal(t, harness.Fail, cl.Invoke(context.Background(), txnOp()).Type, "an empty transaction is never sent")
}
