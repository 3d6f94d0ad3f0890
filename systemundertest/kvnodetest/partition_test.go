package kvnodetest

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// proxy forwards TCP to target until cut; while cut it accepts connections
// and swallows their bytes (a blackhole, the nastiest kind of partition: no
// error, just silence), and a cut also freezes the connections it had.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.closeAll() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		if cut {
			go func() { _, _ = io.Copy(io.Discard, c) }()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, up)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies until cut, then swallows.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if !cut {
			if _, err := dst.Write(buf[:n]); err != nil {
				src.Close()
				return
			}
		}
	}
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestBlackholedLeaderIsReplacedAndRejoins routes every node-to-node link
// through a proxy (as the harness does), blackholes every link of the
// leader, and checks: the majority elects a new leader and takes writes; the
// old leader acknowledges nothing and serves no linearizable read while cut
// off; after the heal it rejoins over fresh connections and converges.
func TestBlackholedLeaderIsReplacedAndRejoins(t *testing.T) {
	ids := []string{"n1", "n2", "n3"}
	addrs := map[string]string{}
	for _, id := range ids {
		addrs[id] = freePort(t)
	}
	// links[from][to] is the proxy from's traffic to to goes through.
	links := map[string]map[string]*proxy{}
	c := &cluster{t: t}
	base := t.TempDir()
	for _, from := range ids {
		links[from] = map[string]*proxy{}
		var peers []string
		for _, to := range ids {
			a := addrs[to]
			if to != from {
				links[from][to] = newProxy(t, addrs[to])
				a = links[from][to].addr()
			}
			peers = append(peers, to+"="+a)
		}
		nd := &node{id: from, addr: addrs[from], dir: base + "/" + from, logPath: base + "/" + from + ".log"}
		nd.args = []string{"--id", from, "--listen", nd.addr, "--peers", strings.Join(peers, ","), "--data", nd.dir,
			"--election-timeout", "300ms", "--heartbeat", "30ms"}
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.kill()
		}
		c.checkLogs()
	})
	for _, nd := range c.nodes {
		c.start(nd)
	}
	old := c.waitLeader(15 * time.Second)
	writeN(t, old.addr, "before", 20)

	isolate := func(cut bool) {
		for _, other := range ids {
			if other != old.id {
				links[old.id][other].setCut(cut)
				links[other][old.id].setCut(cut)
			}
		}
	}
	isolate(true)
	var majority []*node
	for _, nd := range c.nodes {
		if nd != old {
			majority = append(majority, nd)
		}
	}
	var newLeader string
	require.Eventually(t, func() bool {
		cl := client.New(majority[0].addr, 300*time.Millisecond)
		defer cl.Close()
		s, err := cl.Status(context.Background())
		if err == nil && s.Leader != "" && s.Leader != old.id {
			newLeader = s.Leader
			return true
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the majority elects a new leader")
	t.Logf("isolated %s; new leader %s", old.id, newLeader)
	writeN(t, majority[0].addr, "during", 20) // through the new leader (maybe forwarded)
	writeN(t, majority[1].addr, "during2", 20)

	oc := client.New(old.addr, 1500*time.Millisecond)
	defer oc.Close()
	err := oc.Put(context.Background(), "from-old", "x")
	require.Error(t, err, "the isolated old leader cannot acknowledge a write")
	_, _, err = oc.Get(context.Background(), "during0", false)
	require.Error(t, err, "the isolated old leader must not serve a linearizable read")
	assert.True(t, errors.Is(err, api.ErrNotApplied) || errors.Is(err, api.ErrUnknown))

	// Heal. Connections opened during the cut stay black holes and the ones
	// that lived through it lost bytes mid-stream: the transports and the
	// forwarders must time them out and dial again.
	isolate(false)
	c.waitLeader(15 * time.Second)
	writeN(t, old.addr, "after", 20) // the old leader forwards (or leads) again
	d := c.waitConverged(15 * time.Second)
	assert.GreaterOrEqual(t, d.Keys, 80)

	v, found, err := oc.Get(context.Background(), "during19", false)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "v", v)
}
