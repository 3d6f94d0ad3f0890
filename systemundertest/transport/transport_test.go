package transport

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// inbox collects delivered messages.
type inbox struct {
	mu   sync.Mutex
	msgs []raft.Message
}

func (b *inbox) deliver(m raft.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// serve serves the transport handler on addr ("127.0.0.1:0" for any port).
func serve(t *testing.T, addr string, b *inbox) (*http.Server, string) {
	t.Helper()
	var ln net.Listener
	var err error
	// Re-binding a just-closed port can race with the kernel; retry briefly.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	srv := &http.Server{Handler: Handler(b.deliver)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

func TestDeliversInOrderWithPayload(t *testing.T) {
	var b inbox
	_, addr := serve(t, "127.0.0.1:0", &b)
	tr := New(Config{ID: "n1", Peers: map[string]string{"n1": "127.0.0.1:1", "n2": addr}})
	t.Cleanup(func() { _ = tr.Close() })

	snap := &raft.Snapshot{Index: 7, Term: 2, Peers: []string{"n1", "n2"}, Data: []byte("state")}
	for i := range 1000 {
		tr.Send(raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, Commit: uint64(i),
			Entries: []raft.Entry{{Index: uint64(i), Term: 3, Data: []byte{byte(i)}}}})
	}
	tr.Send(raft.Message{Type: raft.MsgSnap, From: "n1", To: "n2", Snapshot: snap})
	tr.Send(raft.Message{Type: raft.MsgApp, From: "n1", To: "nobody"}) // unknown peer: dropped
	require.Eventually(t, func() bool { return b.count() == 1001 }, 5*time.Second, 5*time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, m := range b.msgs[:1000] {
		require.Equal(t, uint64(i), m.Commit, "order")
		require.Equal(t, []byte{byte(i)}, m.Entries[0].Data)
	}
	assert.Equal(t, snap, b.msgs[1000].Snapshot)
}

func TestReconnectsAfterPeerRestart(t *testing.T) {
	var b inbox
	srv, addr := serve(t, "127.0.0.1:0", &b)
	tr := New(Config{ID: "n1", Peers: map[string]string{"n2": addr}, Timeout: 300 * time.Millisecond})
	t.Cleanup(func() { _ = tr.Close() })
	send := func() { tr.Send(raft.Message{Type: raft.MsgHeartbeat, From: "n1", To: "n2"}) }

	send()
	require.Eventually(t, func() bool { return b.count() == 1 }, 2*time.Second, 5*time.Millisecond)

	// Peer down: sends fail (and are dropped) without blocking the caller.
	require.NoError(t, srv.Close())
	start := time.Now()
	for range 10_000 {
		send()
	}
	// A Send that blocked on the 300 ms dial timeout would take 50 min:
	// the bound is loose so a loaded machine does not fail it.
	assert.Less(t, time.Since(start), 10*time.Second, "Send must not block")

	// Peer back on the same address: the persistent connection is gone, the
	// sender dials again.
	var b2 inbox
	serve(t, addr, &b2)
	require.Eventually(t, func() bool { send(); return b2.count() > 0 }, 5*time.Second, 20*time.Millisecond)
}

func TestBlackholedPeerTimesOut(t *testing.T) {
	// A listener that accepts and never answers, as a proxy with a cut link does.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	var b inbox
	_, good := serve(t, "127.0.0.1:0", &b)
	tr := New(Config{ID: "n1", Peers: map[string]string{"n2": ln.Addr().String(), "n3": good}, Timeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = tr.Close() })
	for range 100 {
		tr.Send(raft.Message{Type: raft.MsgHeartbeat, From: "n1", To: "n2"})
		tr.Send(raft.Message{Type: raft.MsgHeartbeat, From: "n1", To: "n3"})
	}
	// The stuck peer does not hold up the others.
	require.Eventually(t, func() bool { return b.count() == 100 }, 2*time.Second, 5*time.Millisecond)
	closed := make(chan struct{})
	go func() { _ = tr.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close hangs on a blackholed peer")
	}
}

func TestHandlerRejectsGarbage(t *testing.T) {
	var b inbox
	_, addr := serve(t, "127.0.0.1:0", &b)
	resp, err := http.Post("http://"+addr+Path, contentType, nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, err = http.Get("http://" + addr + Path)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestPipelinePostsConcurrently(t *testing.T) {
	// A handler that holds every POST until two are in flight at once:
	// with Pipeline 2 they are, and every message still arrives.
	var b inbox
	var mu sync.Mutex
	inFlight, most := 0, 0
	release := make(chan struct{})
	var once sync.Once
	h := Handler(b.deliver)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		if inFlight >= 2 {
			once.Do(func() { close(release) })
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(time.Second):
		}
		h.ServeHTTP(w, r)
		mu.Lock()
		inFlight--
		mu.Unlock()
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	tr := New(Config{ID: "n1", Peers: map[string]string{"n1": "127.0.0.1:1", "n2": ln.Addr().String()}, Pipeline: 2, MaxBatch: 1})
	t.Cleanup(func() { _ = tr.Close() })
	for i := range 20 {
		tr.Send(raft.Message{Type: raft.MsgHeartbeat, From: "n1", To: "n2", Commit: uint64(i)})
	}
	require.Eventually(t, func() bool { return b.count() == 20 }, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, most, "two POSTs in flight at once, never more")
}
