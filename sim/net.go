package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// netAddr is a simulated TCP address.
type netAddr struct {
	ip   string
	port int
}

func (a netAddr) Network() string { return "tcp" }
func (a netAddr) String() string  { return net.JoinHostPort(a.ip, strconv.Itoa(a.port)) }

// segment is one Write on a connection: the unit the world delays, holds,
// drops and classifies.
type segment struct {
	id      uint64
	c       *conn // the sending end
	data    []byte
	fin     bool
	kinds   []string
	readyAt time.Time
	held    bool // a rule holds it (reorder) until released
	// delivered is the taking rule's Delivered hook.
	delivered func(Segment)
	from, to  string
}

// Segment is what rules and traces see of a segment.
type Segment struct {
	ID       uint64
	From, To string   // node names; "" is the harness's clients
	Kinds    []string // from Options.Classify
	Size     int
}

func (s *segment) public() Segment {
	return Segment{ID: s.id, From: s.from, To: s.to, Kinds: s.kinds, Size: len(s.data)}
}

// conn is one end of a simulated TCP connection.
type conn struct {
	w     *World
	inc   *incarnation // owner; nil for the harness's clients
	node  string
	local netAddr
	peer  *conn

	// Receive side, under mu.
	mu      sync.Mutex
	buf     []byte
	eof     bool  // the peer's FIN arrived
	err     error // reset or crash: reads and writes fail with it
	closed  bool  // Close was called here
	dark    bool  // a dropped segment black-holed this direction
	notify  chan struct{}
	rdl     time.Time
	wdl     time.Time
	sentFIN bool

	// Send side, under w.mu: segments to the peer not yet delivered, in
	// order (TCP delivers in order, so a held head holds the rest).
	txq     []*segment
	txLast  time.Time
	pumping bool
}

func newConn(w *World, inc *incarnation, node string, local netAddr) *conn {
	return &conn{w: w, inc: inc, node: node, local: local, notify: make(chan struct{}, 1)}
}

func (c *conn) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *conn) Read(p []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, c.opErr("read", net.ErrClosed)
		case len(c.buf) > 0:
			n := copy(p, c.buf)
			c.buf = c.buf[n:]
			if len(c.buf) == 0 {
				c.buf = nil
			}
			c.mu.Unlock()
			return n, nil
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return 0, c.opErr("read", err)
		case c.eof:
			c.mu.Unlock()
			return 0, io.EOF
		}
		dl := c.rdl
		c.mu.Unlock()
		var expired <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, c.opErr("read", os.ErrDeadlineExceeded)
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		select {
		case <-c.notify:
		case <-expired:
		}
	}
}

func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return 0, c.opErr("write", net.ErrClosed)
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, c.opErr("write", err)
	case !c.wdl.IsZero() && !time.Now().Before(c.wdl):
		c.mu.Unlock()
		return 0, c.opErr("write", os.ErrDeadlineExceeded)
	}
	c.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	c.w.send(c, append([]byte(nil), p...), false)
	return len(p), nil
}

// Close sends a FIN after what was written; reads here fail from now on.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	fin := !c.sentFIN && c.err == nil
	c.sentFIN = true
	c.mu.Unlock()
	c.wake()
	if fin {
		c.w.send(c, nil, true)
	}
	c.w.forget(c)
	return nil
}

// crash is the owner's death: its own reads and writes fail at once; the
// kernel still sends what was written, then a FIN.
func (c *conn) crash() {
	c.mu.Lock()
	fin := !c.sentFIN && !c.closed
	c.sentFIN = true
	if c.err == nil {
		c.err = syscall.ECONNRESET
	}
	c.mu.Unlock()
	c.wake()
	if fin {
		c.w.send(c, nil, true)
	}
}

// reset fails both directions at once (the simulation ends).
func (c *conn) reset(err error) {
	for _, e := range []*conn{c, c.peer} {
		e.mu.Lock()
		if e.err == nil {
			e.err = err
		}
		e.mu.Unlock()
		e.wake()
	}
}

// receive is the delivery of s at this end.
func (c *conn) receive(s *segment) {
	c.mu.Lock()
	if c.closed || c.err != nil || c.dark || (c.inc != nil && c.inc.dead) {
		c.mu.Unlock()
		return
	}
	if s.fin {
		c.eof = true
	} else {
		c.buf = append(c.buf, s.data...)
	}
	c.mu.Unlock()
	c.wake()
}

func (c *conn) opErr(op string, err error) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
		err = os.NewSyscallError(op, err)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.peer.local, Err: err}
}

func (c *conn) LocalAddr() net.Addr  { return c.local }
func (c *conn) RemoteAddr() net.Addr { return c.peer.local }

func (c *conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl, c.wdl = t, t
	c.mu.Unlock()
	c.wake()
	return nil
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	c.wake()
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	return nil
}

// listener is a simulated TCP listener.
type listener struct {
	w      *World
	inc    *incarnation
	addr   netAddr
	mu     sync.Mutex
	queue  []*conn
	closed bool
	notify chan struct{}
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue = l.queue[1:]
			more := len(l.queue) > 0
			l.mu.Unlock()
			if more {
				l.wakeAccept() // another Accept may be waiting
			}
			return c, nil
		}
		l.mu.Unlock()
		<-l.notify
	}
}

func (l *listener) wakeAccept() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *listener) Close() error {
	l.w.mu.Lock()
	if l.w.listeners[l.addr.String()] == l {
		delete(l.w.listeners, l.addr.String())
	}
	l.w.mu.Unlock()
	l.close()
	return nil
}

func (l *listener) close() {
	l.mu.Lock()
	pending := l.queue
	l.queue = nil
	l.closed = true
	l.mu.Unlock()
	l.wakeAccept()
	for _, c := range pending {
		c.reset(syscall.ECONNRESET)
	}
}

func (l *listener) Addr() net.Addr { return l.addr }

// listen registers a listener of inc at address (host:port; port 0 picks one).
func (w *World) listen(inc *incarnation, network, address string) (net.Listener, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("bad port %q", portStr)}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if inc.dead {
		return nil, &net.OpError{Op: "listen", Net: network, Err: errCrashed}
	}
	if host == "" || host == "0.0.0.0" || host == "::" || host == "localhost" {
		host = inc.host.ip
	}
	if host != inc.host.ip {
		return nil, &net.OpError{Op: "listen", Net: network, Err: fmt.Errorf("%s is not an address of node %s (%s)", host, inc.host.name, inc.host.ip)}
	}
	if port == 0 {
		w.nextPort++
		port = w.nextPort
	}
	a := netAddr{ip: host, port: port}
	if _, taken := w.listeners[a.String()]; taken {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: a, Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	}
	l := &listener{w: w, inc: inc, addr: a, notify: make(chan struct{}, 1)}
	w.listeners[a.String()] = l
	return l, nil
}

var errCrashed = errors.New("node crashed")

// dial connects from (inc, or the harness's clients if inc is nil) to address.
func (w *World) dial(ctx context.Context, inc *incarnation, network, address string) (net.Conn, error) {
	from, fromIP := "", "198.51.100.1" // TEST-NET-2: the harness, never dialled
	if inc != nil {
		from, fromIP = inc.host.name, inc.host.ip
	}
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: addrOf(address), Err: err}
	}
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(err)
	}
	port, _ := strconv.Atoi(portStr)
	for {
		w.mu.Lock()
		if inc != nil && inc.dead {
			w.mu.Unlock()
			return nil, opErr(errCrashed)
		}
		if w.closed {
			w.mu.Unlock()
			return nil, opErr(os.NewSyscallError("connect", syscall.ENETUNREACH))
		}
		h := w.byIP[host]
		if h == nil {
			w.mu.Unlock()
			return nil, opErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH))
		}
		if from != "" && (w.cut[link{from, h.name}] || w.cut[link{h.name, from}]) {
			// The SYN (or its answer) is dropped: retried as TCP does,
			// until the cut heals or ctx gives up.
			w.mu.Unlock()
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, opErr(os.ErrDeadlineExceeded)
			case <-t.C:
			}
			continue
		}
		l := w.listeners[net.JoinHostPort(host, portStr)]
		if l == nil {
			w.mu.Unlock()
			return nil, opErr(os.NewSyscallError("connect", syscall.ECONNREFUSED))
		}
		w.nextPort++
		a := newConn(w, inc, from, netAddr{ip: fromIP, port: w.nextPort})
		b := newConn(w, l.inc, h.name, netAddr{ip: host, port: port})
		a.peer, b.peer = b, a
		w.conns[a] = struct{}{}
		w.conns[b] = struct{}{}
		w.mu.Unlock()
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			w.forget(a)
			w.forget(b)
			return nil, opErr(os.NewSyscallError("connect", syscall.ECONNREFUSED))
		}
		l.queue = append(l.queue, b)
		l.mu.Unlock()
		l.wakeAccept()
		return a, nil
	}
}

func addrOf(address string) net.Addr {
	host, port, _ := net.SplitHostPort(address)
	p, _ := strconv.Atoi(port)
	return netAddr{ip: host, port: p}
}

func (w *World) forget(c *conn) {
	w.mu.Lock()
	// Kept while segments to the peer are queued (they still travel).
	if len(c.txq) == 0 {
		delete(w.conns, c)
	}
	w.mu.Unlock()
}

// clientNet is the harness's side of the world.
type clientNet struct{ w *World }

func (n clientNet) Listen(network, address string) (net.Listener, error) {
	return nil, errors.New("sim: the harness's clients do not listen")
}

func (n clientNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return n.w.dial(ctx, nil, network, address)
}
