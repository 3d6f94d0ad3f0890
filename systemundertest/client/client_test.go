package client

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// fakeStore answers from a map; err, when set, is returned by every call;
// block makes calls wait for their context.
type fakeStore struct {
	mu    sync.Mutex
	data  map[string]string
	err   error
	block bool
	stale []bool
}

func (s *fakeStore) wait(ctx context.Context) error {
	s.mu.Lock()
	block, err := s.block, s.err
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return api.Unknown("timed out")
	}
	return err
}

func (s *fakeStore) Get(ctx context.Context, key string, stale bool) (string, bool, error) {
	if err := s.wait(ctx); err != nil {
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stale = append(s.stale, stale)
	v, ok := s.data[key]
	return v, ok, nil
}

func (s *fakeStore) Put(ctx context.Context, key, value string) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = value
	return nil
}

func (s *fakeStore) CAS(ctx context.Context, key, from, to string) (api.CASResult, error) {
	if err := s.wait(ctx); err != nil {
		return api.CASResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.data[key]
	if !ok || cur != from {
		return api.CASResult{Current: cur, Found: ok}, nil
	}
	s.data[key] = to
	return api.CASResult{OK: true}, nil
}

func (s *fakeStore) Status() api.Status { return api.Status{ID: "n1", Mode: "raft", Role: "leader"} }

func (s *fakeStore) Digest(withValues bool) api.Digest {
	d := api.Digest{ID: "n1", Digest: "abc", Keys: len(s.data)}
	if withValues {
		d.Values = map[string]string{"k": "h"}
	}
	return d
}

func (s *fakeStore) Close() error { return nil }

func (s *fakeStore) set(f func(*fakeStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func start(t *testing.T) (*fakeStore, *clock.Skewable, *Client) {
	t.Helper()
	st := &fakeStore{data: map[string]string{}}
	clk := clock.NewReal()
	srv := httptest.NewServer(api.NewServer(st, api.ServerOptions{Clock: clk}))
	t.Cleanup(srv.Close)
	c := New(srv.Listener.Addr().String(), 300*time.Millisecond)
	t.Cleanup(c.Close)
	return st, clk, c
}

func TestRoundTrip(t *testing.T) {
	st, clk, c := start(t)
	ctx := context.Background()
	require.NoError(t, c.Put(ctx, "a/b c?", "1"))
	v, found, err := c.Get(ctx, "a/b c?", false)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "1", v)
	_, found, err = c.Get(ctx, "nope", true)
	require.NoError(t, err)
	assert.False(t, found)
	assert.Equal(t, []bool{false, true}, st.stale)

	res, err := c.CAS(ctx, "a/b c?", "1", "2")
	require.NoError(t, err)
	assert.Equal(t, api.CASResult{OK: true}, res)
	res, err = c.CAS(ctx, "a/b c?", "1", "3")
	require.NoError(t, err)
	assert.Equal(t, api.CASResult{OK: false, Current: "2", Found: true}, res)
	res, err = c.CAS(ctx, "absent", "", "3")
	require.NoError(t, err)
	assert.Equal(t, api.CASResult{OK: false, Current: "", Found: false}, res)

	s, err := c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, "leader", s.Role)
	require.NoError(t, c.SetClock(ctx, -1500*time.Millisecond))
	assert.Equal(t, -1500*time.Millisecond, clk.Offset())
	s, err = c.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(-1500), s.ClockOffset)
	d, err := c.Digest(ctx)
	require.NoError(t, err)
	assert.Equal(t, "abc", d.Digest)
	assert.Equal(t, map[string]string{"k": "h"}, d.Values)
}

func TestServerClassificationReachesClient(t *testing.T) {
	st, _, c := start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		serverErr error
		want      error
	}{
		{api.NotApplied("no leader"), api.ErrNotApplied},
		{api.Unknown("lost leadership"), api.ErrUnknown},
		{errors.New("unclassified"), api.ErrUnknown},
	} {
		st.set(func(s *fakeStore) { s.err = tc.serverErr })
		assert.ErrorIs(t, c.Put(ctx, "k", "v"), tc.want, "%v", tc.serverErr)
		_, err := c.CAS(ctx, "k", "v", "w")
		assert.ErrorIs(t, err, tc.want, "%v", tc.serverErr)
		// A failed read changed nothing, whatever the server said.
		_, _, err = c.Get(ctx, "k", false)
		assert.ErrorIs(t, err, api.ErrNotApplied, "%v", tc.serverErr)
	}
}

func TestTimeouts(t *testing.T) {
	st, _, c := start(t)
	st.set(func(s *fakeStore) { s.block = true })
	ctx := context.Background()
	assert.ErrorIs(t, c.Put(ctx, "k", "v"), api.ErrUnknown, "a write timing out after being sent may have been applied")
	_, err := c.CAS(ctx, "k", "v", "w")
	assert.ErrorIs(t, err, api.ErrUnknown)
	_, _, err = c.Get(ctx, "k", false)
	assert.ErrorIs(t, err, api.ErrNotApplied)
}

func TestConnectionFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("refused is not applied", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		c := New(addr, 300*time.Millisecond)
		defer c.Close()
		assert.ErrorIs(t, c.Put(ctx, "k", "v"), api.ErrNotApplied)
		_, err = c.CAS(ctx, "k", "v", "w")
		assert.ErrorIs(t, err, api.ErrNotApplied)
	})
	t.Run("reset after the request was sent is unknown", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf)
				conn.Close()
			}
		}()
		c := New(ln.Addr().String(), 300*time.Millisecond)
		defer c.Close()
		assert.ErrorIs(t, c.Put(ctx, "k", "v"), api.ErrUnknown)
		_, _, err = c.Get(ctx, "k", false)
		assert.ErrorIs(t, err, api.ErrNotApplied)
	})
	t.Run("a server that never answers: writes unknown", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		var conns []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}
		}()
		defer func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		}()
		c := New(ln.Addr().String(), 200*time.Millisecond)
		defer c.Close()
		assert.ErrorIs(t, c.Put(ctx, "k", "v"), api.ErrUnknown)
	})
}
