package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// setCtrStore records the set and counter calls.
type setCtrStore struct {
	recStore
	elem, id string
	delta    int64
}

func (s *setCtrStore) SetAdd(ctx context.Context, key, elem string) error {
	s.key, s.elem = key, elem
	return s.err
}

func (s *setCtrStore) SetRead(ctx context.Context, key string) ([]string, error) {
	s.key = key
	return nil, s.err
}

func (s *setCtrStore) CounterAdd(ctx context.Context, key string, delta int64, id string) error {
	s.key, s.delta, s.id = key, delta, id
	return s.err
}

func (s *setCtrStore) CounterRead(ctx context.Context, key string) (int64, error) {
	s.key = key
	return -7, s.err
}

func TestSetCounterRoutes(t *testing.T) {
	st := &setCtrStore{}
	h := NewServer(st, ServerOptions{})
	code, body := do(t, h, "POST", "/set/a%2Fb/add", `{"element":"x"}`)
	assert.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, "a/b", st.key)
	assert.Equal(t, "x", st.elem)
	code, body = do(t, h, "GET", "/set/s", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, []any{}, body["elements"], "an absent set is empty, not null")
	code, _ = do(t, h, "POST", "/counter/c/add", `{"delta":-3,"id":"r-1"}`)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, int64(-3), st.delta)
	assert.Equal(t, "r-1", st.id)
	code, body = do(t, h, "GET", "/counter/c", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, float64(-7), body["value"])

	for _, c := range []struct{ path, body, want string }{
		{"/set/s/add", `{}`, `lacks "element"`},
		{"/set/s/add", `nope`, "bad JSON"},
		{"/counter/c/add", `{"id":"x"}`, `lacks "delta"`},
		{"/counter/c/add", `{"delta":"3"}`, "bad JSON"},
		{"/counter/c/add", `{"delta":1.5}`, "bad JSON"},
		{"/counter/c/add", `{"delta":1,"id":"has space"}`, `"id" must be`},
	} {
		code, body := do(t, h, "POST", c.path, c.body)
		assert.Equal(t, http.StatusBadRequest, code, c.body)
		assert.Contains(t, body["error"], c.want, c.body)
	}

	st.err = Unknown("lost")
	code, _ = do(t, h, "POST", "/counter/c/add", `{"delta":1}`)
	assert.Equal(t, http.StatusGatewayTimeout, code)
	st.err = NotApplied("no leader")
	code, _ = do(t, h, "GET", "/set/s", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)

	// A mode without sets and counters says so.
	plain := NewServer(&recStore{}, ServerOptions{})
	code, body = do(t, plain, "POST", "/set/s/add", `{"element":"x"}`)
	assert.Equal(t, http.StatusNotImplemented, code)
	assert.Equal(t, NoSets, body["error"])
	code, body = do(t, plain, "GET", "/counter/c", "")
	assert.Equal(t, http.StatusNotImplemented, code)
	assert.Equal(t, NoCounters, body["error"])
}
