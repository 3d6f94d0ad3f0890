package local

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// peer is a fake node: it records every line it receives and answers
// "ack <line>".
type peer struct {
	ln   net.Listener
	got  chan string
	name string
}

func newPeer(t testing.TB, name string) *peer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &peer{ln: ln, got: make(chan string, 1000), name: name}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go func() {
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					p.got <- sc.Text()
					if _, err := fmt.Fprintf(c, "ack %s\n", sc.Text()); err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// testMesh has nodes a and b with proxies a->b and b->a.
func testMesh(t testing.TB) (m *mesh, ab, ba *link, pa, pb *peer) {
	m = newMesh(1)
	t.Cleanup(m.close)
	pa, pb = newPeer(t, "a"), newPeer(t, "b")
	ab, err := m.addLink("a", "b", pb.ln.Addr().String())
	require.NoError(t, err)
	ba, err = m.addLink("b", "a", pa.ln.Addr().String())
	require.NoError(t, err)
	return m, ab, ba, pa, pb
}

type line struct {
	c net.Conn
	r *bufio.Reader
}

func dialLink(t *testing.T, l *link) *line {
	c, err := net.Dial("tcp", l.addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &line{c: c, r: bufio.NewReader(c)}
}

func (l *line) send(t *testing.T, s string) {
	_, err := fmt.Fprintf(l.c, "%s\n", s)
	require.NoError(t, err)
}

// recv reads one line within d; "" and the error on timeout or end.
func (l *line) recv(d time.Duration) (string, error) {
	_ = l.c.SetReadDeadline(time.Now().Add(d))
	s, err := l.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func gotWithin(p *peer, d time.Duration) (string, bool) {
	select {
	case s := <-p.got:
		return s, true
	case <-time.After(d):
		return "", false
	}
}

func TestProxyPassesTraffic(t *testing.T) {
	_, ab, _, _, pb := testMesh(t)
	c := dialLink(t, ab)
	c.send(t, "hello")
	got, err := c.recv(2 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ack hello", got)
	s, _ := gotWithin(pb, time.Second)
	assert.Equal(t, "hello", s)
}

func TestPartitionIsSilenceAndHealCloses(t *testing.T) {
	m, ab, _, _, pb := testMesh(t)
	c := dialLink(t, ab)
	c.send(t, "before")
	_, err := c.recv(2 * time.Second)
	require.NoError(t, err)
	<-pb.got

	// b no longer hears a: a's bytes are held, with no error or reset.
	m.partition(harness.Grudge{"b": {"a"}})
	c.send(t, "during")
	_, err = c.recv(300 * time.Millisecond)
	assert.True(t, isTimeout(err), "an existing connection must be silent, got %v", err)
	_, ok := gotWithin(pb, 100*time.Millisecond)
	assert.False(t, ok, "b must not hear a")

	// A new connection is accepted and black-holed.
	n := dialLink(t, ab)
	n.send(t, "new")
	_, err = n.recv(300 * time.Millisecond)
	assert.True(t, isTimeout(err), "a new connection must be silent, got %v", err)
	_, ok = gotWithin(pb, 100*time.Millisecond)
	assert.False(t, ok)

	// Heal closes the connections that held bytes; fresh ones work.
	m.heal()
	for _, x := range []*line{c, n} {
		_, err := x.recv(2 * time.Second)
		require.Error(t, err)
		assert.False(t, isTimeout(err), "a frozen connection must be closed at heal, got %v", err)
	}
	_, ok = gotWithin(pb, 200*time.Millisecond)
	assert.False(t, ok, "held bytes must not be delivered late")
	f := dialLink(t, ab)
	f.send(t, "after")
	got, err := f.recv(2 * time.Second)
	require.NoError(t, err)
	assert.Equal(t, "ack after", got)
}

func TestAsymmetricGrudge(t *testing.T) {
	m, ab, ba, pa, pb := testMesh(t)
	// a no longer hears b; b still hears a.
	m.partition(harness.Grudge{"a": {"b"}})

	// On a's connection to b, a's request reaches b; b's reply does not reach a.
	c := dialLink(t, ab)
	c.send(t, "to-b")
	s, ok := gotWithin(pb, 2*time.Second)
	require.True(t, ok, "b must hear a")
	assert.Equal(t, "to-b", s)
	_, err := c.recv(300 * time.Millisecond)
	assert.True(t, isTimeout(err), "a must not hear b's reply, got %v", err)

	// On b's connection to a, nothing of b's reaches a.
	d := dialLink(t, ba)
	d.send(t, "to-a")
	_, ok = gotWithin(pa, 300*time.Millisecond)
	assert.False(t, ok, "a must not hear b")

	// A new grudge that no longer cuts a<->b closes both touched connections.
	m.partition(harness.Grudge{})
	for _, x := range []*line{c, d} {
		_, err := x.recv(2 * time.Second)
		require.Error(t, err)
		assert.False(t, isTimeout(err))
	}
}

func TestPartitionHidesDeadPeer(t *testing.T) {
	m := newMesh(1)
	t.Cleanup(m.close)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := dead.Addr().String()
	dead.Close()
	l, err := m.addLink("a", "b", addr)
	require.NoError(t, err)

	// Without a partition, a down peer shows as a closed connection.
	c := dialLink(t, l)
	_, err = c.recv(2 * time.Second)
	require.Error(t, err)
	assert.False(t, isTimeout(err))

	// Behind a partition it is silence.
	m.partition(harness.Grudge{"b": {"a"}})
	c = dialLink(t, l)
	_, err = c.recv(300 * time.Millisecond)
	assert.True(t, isTimeout(err), "got %v", err)
}

func roundTrip(t *testing.T, c *line, s string) time.Duration {
	t0 := time.Now()
	c.send(t, s)
	got, err := c.recv(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, "ack "+s, got)
	return time.Since(t0)
}

// The delays are counted in units of a latency long enough that a loaded
// machine's own slowness (a round trip over loopback) stays well below one.
func TestLatency(t *testing.T) {
	const lat = 400 * time.Millisecond
	m, ab, _, _, _ := testMesh(t)
	c := dialLink(t, ab)
	roundTrip(t, c, "warm")

	m.netem(harness.LinkFault{Latency: lat})
	rtt := roundTrip(t, c, "slow")
	assert.GreaterOrEqual(t, rtt, 2*lat, "both directions are delayed")
	assert.Less(t, rtt, 4*lat, "once each")

	// Only a->b: one delay per round trip.
	m.netem(harness.LinkFault{Latency: lat, Links: map[string][]string{"a": {"b"}}})
	rtt = roundTrip(t, c, "one-way")
	assert.GreaterOrEqual(t, rtt, lat)
	assert.Less(t, rtt, 2*lat, "one direction only")

	m.heal()
	assert.Less(t, roundTrip(t, c, "fast"), lat, "no delay after the heal")
}

// TestJitterAndLossKeepOrder streams numbered lines through a link with
// jitter and loss; the stream must arrive whole and in order.
func TestJitterAndLossKeepOrder(t *testing.T) {
	m, ab, _, _, pb := testMesh(t)
	m.netem(harness.LinkFault{Latency: 5 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.2})
	c := dialLink(t, ab)
	go func() {
		for i := 0; i < 200; i++ {
			fmt.Fprintf(c.c, "%d\n", i)
			time.Sleep(time.Millisecond) // separate chunks, so each draws its own delay
		}
	}()
	for i := 0; i < 200; i++ {
		s, ok := gotWithin(pb, 10*time.Second)
		require.True(t, ok, "line %d missing", i)
		require.Equal(t, fmt.Sprint(i), s)
	}
	for i := 0; i < 200; i++ {
		s, err := c.recv(10 * time.Second)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("ack %d", i), s)
	}
}

func TestLossIsRetransmissionDelay(t *testing.T) {
	m, ab, _, _, _ := testMesh(t)
	c := dialLink(t, ab)
	m.netem(harness.LinkFault{Loss: 1})
	rtt := roundTrip(t, c, "lost")
	// Each direction loses its chunk once: 2 x 200..400 ms.
	assert.GreaterOrEqual(t, rtt, 2*retransmitMin)
	assert.Less(t, rtt, 2*retransmitMax+time.Second, "retransmitted, not lost for good")
	m.netem(harness.LinkFault{Loss: 0})
	assert.Less(t, roundTrip(t, c, "fine"), retransmitMin, "no retransmission once loss is off")
}

func TestMeshCloseEndsConnections(t *testing.T) {
	m, ab, _, _, _ := testMesh(t)
	c := dialLink(t, ab)
	roundTrip(t, c, "x")
	m.close()
	_, err := c.recv(2 * time.Second)
	require.Error(t, err)
	assert.ErrorIs(t, err, io.EOF)
	_, err = net.DialTimeout("tcp", ab.addr(), time.Second)
	assert.Error(t, err, "the proxy no longer listens")
}

// BenchmarkRoundTrip measures a small request/response through a proxy
// against the same exchange without one.
func BenchmarkRoundTrip(b *testing.B) {
	for _, proxied := range []bool{false, true} {
		b.Run(fmt.Sprintf("proxied=%v", proxied), func(b *testing.B) {
			_, ab, _, _, pb := testMesh(b)
			addr := ab.addr()
			if !proxied {
				addr = pb.ln.Addr().String()
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			go func() {
				for range pb.got {
				}
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fmt.Fprintf(c, "x\n")
				if _, err := r.ReadString('\n'); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
