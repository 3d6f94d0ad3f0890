package local

import (
	"math/rand"
	"net"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Loss emulation: a lost chunk costs a retransmission, not its bytes.
const (
	retransmitMin = 200 * time.Millisecond
	retransmitMax = 400 * time.Millisecond
	chunkSize     = 32 << 10
	// queueChunks bounds the chunks in flight per direction. A delayed link
	// carries latency × message rate of them; too few throttle the link to
	// queueChunks per latency (64 per 150 ms is under what a Raft leader
	// sends a follower under load), heartbeats queue behind appends and
	// every follower times out: a bandwidth cap netem's delay does not have.
	queueChunks = 4096
	dialTimeout = time.Second
)

// dirKey is one direction of traffic: bytes sent by from to to.
type dirKey struct{ from, to string }

// mesh is the set of proxies between the nodes of one cluster, and the
// network state they enforce.
type mesh struct {
	mu      sync.Mutex
	blocked map[dirKey]bool // from's bytes do not reach to
	fault   harness.LinkFault
	faulty  map[dirKey]bool // the link fault applies to this direction
	changed chan struct{}   // closed and replaced on every state change
	conns   map[*pconn]struct{}
	links   []*link
	rng     *rand.Rand
	closed  bool
	wg      sync.WaitGroup
}

func newMesh(seed int64) *mesh {
	return &mesh{blocked: map[dirKey]bool{}, faulty: map[dirKey]bool{}, changed: make(chan struct{}),
		conns: map[*pconn]struct{}{}, rng: rand.New(rand.NewSource(seed))}
}

// link is the proxy that from dials to reach to.
type link struct {
	m        *mesh
	from, to string
	ln       net.Listener
	target   string
}

// addLink starts a proxy for from->to on a port the OS picks.
func (m *mesh) addLink(from, to, target string) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{m: m, from: from, to: to, ln: ln, target: target}
	m.mu.Lock()
	m.links = append(m.links, l)
	m.mu.Unlock()
	m.wg.Add(1)
	go l.accept()
	return l, nil
}

func (l *link) addr() string { return l.ln.Addr().String() }

// pconn is one proxied connection: client (the dialing node) <-> upstream.
type pconn struct {
	l        *link
	client   net.Conn
	upstream net.Conn // nil while black-holed
	// tainted: a partition touched this connection while it was open. It is
	// closed when the partition lifts, since bytes were held back in it.
	tainted bool
	done    chan struct{}
	once    sync.Once
}

func (c *pconn) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		if c.upstream != nil {
			c.upstream.Close()
		}
	})
}

func (l *link) accept() {
	defer l.m.wg.Done()
	for {
		cl, err := l.ln.Accept()
		if err != nil {
			return
		}
		c := &pconn{l: l, client: cl, done: make(chan struct{})}
		m := l.m
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			cl.Close()
			return
		}
		m.conns[c] = struct{}{}
		cut := m.blocked[dirKey{l.from, l.to}]
		if cut || m.blocked[dirKey{l.to, l.from}] {
			c.tainted = true
		}
		m.mu.Unlock()
		if cut {
			// A partition is silence: the connection is accepted (the kernel
			// would have anyway) and nothing is sent on; it is closed when
			// the partition lifts. No upstream dial: a dead peer must not
			// show through a partition as a refused connection.
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			l.serve(c)
		}()
	}
}

func (l *link) serve(c *pconn) {
	defer l.m.forget(c)
	up, err := net.DialTimeout("tcp", l.target, dialTimeout)
	if err != nil {
		c.close() // the peer is down: the dialer sees its connection end
		return
	}
	l.m.mu.Lock()
	if isDone(c.done) {
		l.m.mu.Unlock()
		up.Close()
		return
	}
	c.upstream = up
	l.m.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.m.pump(c, c.client, up, dirKey{l.from, l.to}) }()
	go func() { defer wg.Done(); l.m.pump(c, up, c.client, dirKey{l.to, l.from}) }()
	wg.Wait()
	c.close()
}

func isDone(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (m *mesh) forget(c *pconn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

type chunk struct {
	data []byte
	due  time.Time
}

// pump copies one direction. A reader stamps each chunk with the time it
// may be delivered (now + latency + jitter, + a retransmission delay if
// "lost"), never earlier than the chunk before it, so order is kept and
// delays overlap as on a real link; a writer delivers chunks when due and
// while the direction is not cut.
func (m *mesh) pump(c *pconn, src, dst net.Conn, d dirKey) {
	q := make(chan chunk, queueChunks)
	go func() {
		defer close(q)
		var last time.Time
		buf := make([]byte, chunkSize)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				due := time.Now().Add(m.delay(d))
				if due.Before(last) {
					due = last
				}
				last = due
				select {
				case q <- chunk{append([]byte(nil), buf[:n]...), due}:
				case <-c.done:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		if wait := time.Until(ch.due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-c.done:
				t.Stop()
				return
			}
		}
		if !m.waitOpen(c, d) {
			return
		}
		if _, err := dst.Write(ch.data); err != nil {
			c.close()
			return
		}
	}
	// The source ended (EOF or error): pass the end on, keeping the other
	// direction open, as TCP does with a half-close.
	if tc, ok := dst.(*net.TCPConn); ok && !isDone(c.done) {
		_ = tc.CloseWrite()
	}
}

// delay draws the extra time a chunk in direction d spends in the link.
func (m *mesh) delay(d dirKey) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.faulty[d] {
		return 0
	}
	f := m.fault
	delay := f.Latency
	if f.Jitter > 0 {
		delay += time.Duration(m.rng.Int63n(int64(2*f.Jitter)+1)) - f.Jitter
	}
	if f.Loss > 0 && m.rng.Float64() < f.Loss {
		delay += retransmitMin + time.Duration(m.rng.Int63n(int64(retransmitMax-retransmitMin)+1))
	}
	return max(delay, 0)
}

// waitOpen blocks while direction d is cut; false once c is closed.
func (m *mesh) waitOpen(c *pconn, d dirKey) bool {
	for {
		m.mu.Lock()
		cut, ch := m.blocked[d], m.changed
		m.mu.Unlock()
		if isDone(c.done) {
			return false
		}
		if !cut {
			return true
		}
		select {
		case <-ch:
		case <-c.done:
			return false
		}
	}
}

// partition replaces the cut directions. g[a] containing b cuts b->a.
// Connections a partition touches are marked; those whose link is whole
// again are closed, since they held bytes back (see the package doc).
func (m *mesh) partition(g harness.Grudge) {
	blocked := map[dirKey]bool{}
	for a, bs := range g {
		for _, b := range bs {
			if a != b {
				blocked[dirKey{b, a}] = true
			}
		}
	}
	m.mu.Lock()
	m.blocked = blocked
	m.update()
}

// netem replaces the link fault.
func (m *mesh) netem(f harness.LinkFault) {
	faulty := map[dirKey]bool{}
	m.mu.Lock()
	for _, l := range m.links {
		for _, d := range []dirKey{{l.from, l.to}, {l.to, l.from}} {
			if f.Links == nil || containsStr(f.Links[d.from], d.to) {
				faulty[d] = true
			}
		}
	}
	m.fault, m.faulty = f, faulty
	m.update()
}

// heal removes every partition and link fault.
func (m *mesh) heal() {
	m.mu.Lock()
	m.blocked, m.fault, m.faulty = map[dirKey]bool{}, harness.LinkFault{}, map[dirKey]bool{}
	m.update()
}

// update applies a state change; called with m.mu held, it releases it.
func (m *mesh) update() {
	for c := range m.conns {
		l := c.l
		if m.blocked[dirKey{l.from, l.to}] || m.blocked[dirKey{l.to, l.from}] {
			c.tainted = true
		} else if c.tainted {
			// Closed before the waiting writers wake, so none of them
			// delivers a held chunk first.
			c.close()
			delete(m.conns, c)
		}
	}
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// close stops every proxy and connection.
func (m *mesh) close() {
	m.mu.Lock()
	m.closed = true
	conns := make([]*pconn, 0, len(m.conns))
	for c := range m.conns {
		conns = append(conns, c)
	}
	m.conns = map[*pconn]struct{}{}
	links := m.links
	m.mu.Unlock()
	for _, l := range links {
		l.ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func containsStr(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
