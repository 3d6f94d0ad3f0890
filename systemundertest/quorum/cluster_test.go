package quorum

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// link is a directed peer connection, from coordinator to replica.
type link struct{ from, to string }

// faults is the tests' network: every node's peer transport goes through it,
// so a test can drop or hold requests per link and per route (get, put).
type faults struct {
	mu      sync.Mutex
	idOf    map[string]string // host:port -> node id
	dropped map[link]map[string]bool
	held    map[link]map[string]chan struct{}
}

func newFaults() *faults {
	return &faults{idOf: map[string]string{}, dropped: map[link]map[string]bool{}, held: map[link]map[string]chan struct{}{}}
}

// drop makes requests from -> to fail at once; no routes means every route.
func (f *faults) drop(from, to string, routes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(routes) == 0 {
		routes = []string{"*"}
	}
	l := link{from, to}
	if f.dropped[l] == nil {
		f.dropped[l] = map[string]bool{}
	}
	for _, r := range routes {
		f.dropped[l][r] = true
	}
}

// isolate drops every request between a and each of others, both ways.
func (f *faults) isolate(a string, others ...string) {
	for _, o := range others {
		f.drop(a, o)
		f.drop(o, a)
	}
}

// hold blocks requests from -> to on route until the returned func is called.
func (f *faults) hold(from, to, route string) (release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := link{from, to}
	if f.held[l] == nil {
		f.held[l] = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	f.held[l][route] = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.held[l], route)
			f.mu.Unlock()
			close(ch)
		})
	}
}

func (f *faults) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropped = map[link]map[string]bool{}
	for _, m := range f.held {
		for _, ch := range m {
			close(ch)
		}
	}
	f.held = map[link]map[string]chan struct{}{}
}

type faultRT struct {
	from string
	f    *faults
	base http.RoundTripper
}

func (rt *faultRT) RoundTrip(req *http.Request) (*http.Response, error) {
	route := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
	rt.f.mu.Lock()
	l := link{rt.from, rt.f.idOf[req.URL.Host]}
	d := rt.f.dropped[l]
	drop := d["*"] || d[route]
	hold := rt.f.held[l][route]
	rt.f.mu.Unlock()
	if drop {
		return nil, fmt.Errorf("injected partition %s -> %s", l.from, l.to)
	}
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return rt.base.RoundTrip(req)
}

// node is one member of a test cluster: a real listener on 127.0.0.1:0
// serving whichever Store is current (none while "down").
type node struct {
	id    string
	dir   string
	cfg   Config
	store atomic.Pointer[Store]
	api   atomic.Pointer[http.Handler] // kvnode's full API over store
}

type cluster struct {
	t      testing.TB
	nodes  map[string]*node
	ids    []string
	faults *faults
	base   *http.Transport
}

// newCluster starts size nodes n1..nsize; mod adjusts each node's Config.
func newCluster(t testing.TB, size int, mod func(*Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, nodes: map[string]*node{}, faults: newFaults(),
		base: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(c.base.CloseIdleConnections)
	peers := map[string]string{}
	lns := map[string]net.Listener{}
	for i := 1; i <= size; i++ {
		id := fmt.Sprintf("n%d", i)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		peers[id] = ln.Addr().String()
		c.faults.idOf[ln.Addr().String()] = id
		lns[id] = ln
		c.ids = append(c.ids, id)
	}
	for _, id := range c.ids {
		n := &node{id: id, dir: t.TempDir()}
		n.cfg = Config{ID: id, Peers: peers, DataDir: n.dir, RPCTimeout: 2 * time.Second,
			Transport: &faultRT{from: id, f: c.faults, base: c.base}}
		if mod != nil {
			mod(&n.cfg)
		}
		c.nodes[id] = n
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := n.api.Load()
			if h == nil {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			(*h).ServeHTTP(w, r)
		})}
		go srv.Serve(lns[id])
		t.Cleanup(func() { srv.Close() })
		c.start(id)
	}
	t.Cleanup(func() {
		c.faults.heal()
		for _, n := range c.nodes {
			n.api.Store(nil)
			if s := n.store.Swap(nil); s != nil {
				s.Close()
			}
		}
	})
	return c
}

func (c *cluster) start(id string) {
	c.t.Helper()
	n := c.nodes[id]
	s, err := Open(n.cfg)
	require.NoError(c.t, err)
	h := api.NewServer(s, api.ServerOptions{Internal: s.Handler()})
	n.store.Store(s)
	n.api.Store(&h)
}

// addr is where node id serves clients and peers.
func (c *cluster) addr(id string) string { return c.nodes[id].cfg.Peers[id] }

// crash stops a node as SIGKILL would (user-space buffers lost).
func (c *cluster) crash(id string) {
	c.nodes[id].api.Store(nil)
	if s := c.nodes[id].store.Swap(nil); s != nil {
		s.crash()
	}
}

func (c *cluster) s(id string) *Store { return c.nodes[id].store.Load() }

func ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// local is what node id's own replica holds for key.
func (c *cluster) local(id, key string) string {
	v, _, err := c.s(id).Get(context.Background(), key, true)
	require.NoError(c.t, err)
	return v
}

func (c *cluster) get(id, key string) (string, error) {
	v, found, err := c.s(id).Get(ctx(c.t), key, false)
	if err == nil && !found {
		return "<absent>", nil
	}
	return v, err
}

// waitLocal waits until node id's replica holds want for key (background
// puts may still be in flight after a quorum acknowledged).
func (c *cluster) waitLocal(id, key, want string) {
	c.t.Helper()
	require.Eventually(c.t, func() bool { return c.local(id, key) == want }, 5*time.Second, 5*time.Millisecond,
		"%s never held %s=%s", id, key, want)
}
