package client

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// txnStore adds transactions to fakeStore: reads answer "v" (a list
// ["v"]), an add refuses, err as the rest.
type txnStore struct{ *fakeStore }

func (s txnStore) Txn(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	out := make([]api.Mop, len(txn))
	for i, m := range txn {
		out[i] = m
		switch {
		case m.F == api.MAdd:
			return nil, api.Refused("add %s: below zero", m.Key)
		case m.ReadsList():
			out[i].List = []string{"v"}
		case m.IsRead():
			v := "v"
			out[i].Value = &v
		}
	}
	return out, nil
}

func startTxn(t *testing.T, withTxn bool) (*fakeStore, *Client) {
	t.Helper()
	st := &fakeStore{data: map[string]string{}}
	var store api.Store = st
	if withTxn {
		store = txnStore{st}
	}
	srv := httptest.NewServer(api.NewServer(store, api.ServerOptions{}))
	t.Cleanup(srv.Close)
	c := New(srv.Listener.Addr().String(), 300*time.Millisecond)
	t.Cleanup(c.Close)
	return st, c
}

func TestTxn(t *testing.T) {
	st, c := startTxn(t, true)
	ctx := context.Background()
	v := "1"
	out, err := c.Txn(ctx, []api.Mop{{F: api.MAppend, Key: "x", Value: &v}, {F: api.MRead, Key: "x", List: []string{}}, {F: api.MRead, Key: "y"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"v"}, out[1].List)
	assert.Equal(t, "v", *out[2].Value)

	_, err = c.Txn(ctx, []api.Mop{{F: api.MAdd, Key: "a", Value: &v}})
	var refused *api.RefusedError
	require.ErrorAs(t, err, &refused, "409 is a refusal")
	assert.Equal(t, "add a: below zero", refused.Reason)
	assert.ErrorIs(t, err, api.ErrNotApplied)

	st.set(func(s *fakeStore) { s.err = api.Unknown("leader lost") })
	_, err = c.Txn(ctx, []api.Mop{{F: api.MAppend, Key: "x", Value: &v}})
	assert.ErrorIs(t, err, api.ErrUnknown, "504 on a transaction that writes is unknown")
	st.set(func(s *fakeStore) { s.err = nil; s.block = true })
	_, err = c.Txn(ctx, []api.Mop{{F: api.MAppend, Key: "x", Value: &v}})
	assert.ErrorIs(t, err, api.ErrUnknown, "a timeout after sending is unknown")
	_, err = c.Txn(ctx, []api.Mop{{F: api.MRead, Key: "x"}})
	assert.ErrorIs(t, err, api.ErrNotApplied, "a read-only transaction that timed out changed nothing")
}

func TestTxnOnAStoreWithoutTransactions(t *testing.T) {
	_, c := startTxn(t, false)
	_, err := c.Txn(context.Background(), []api.Mop{{F: api.MRead, Key: "x"}})
	assert.ErrorIs(t, err, api.ErrNotApplied)
	assert.ErrorContains(t, err, api.NoTxn)
}
