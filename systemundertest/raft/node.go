package raft

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// Node is a running raft member: one goroutine owns the core and its
// driver; Deliver, Propose and ReadIndex hand work to it over channels.
// Everything that arrives while the node is busy (fsyncing) is taken as
// one batch: many proposals become one log append, one fsync and one
// append message per follower.
type Node struct {
	cfg   Config
	d     *driver
	log   *slog.Logger
	recvc chan Message
	propc chan *call
	readc chan *call
	stopc chan struct{}
	donec chan struct{}
	once  sync.Once

	mu     sync.Mutex
	status Status
}

var _ NodeAPI = (*Node)(nil)

// call is one Propose or ReadIndex waiting for its outcome.
type call struct {
	data []byte
	ch   chan completion // buffered: the loop never blocks on it
}

// NewNode restores state from the stores and starts the node.
func NewNode(cfg Config) (*Node, error) {
	cfg = withDefaults(cfg)
	if cfg.Transport == nil {
		return nil, fmt.Errorf("raft: config needs a Transport")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewReal()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := newDriver(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:   cfg,
		d:     d,
		log:   cfg.Logger.With("raft", cfg.ID),
		recvc: make(chan Message, 4096),
		propc: make(chan *call),
		readc: make(chan *call),
		stopc: make(chan struct{}),
		donec: make(chan struct{}),
	}
	d.sendEarly = cfg.Transport.Send
	n.status = d.c.status()
	n.log.Info("raft node started", "term", d.c.term, "last_log", d.c.lastIndex(), "snapshot", d.c.snapIndex,
		"bug", cfg.Bug)
	go n.run()
	return n, nil
}

// Deliver hands an incoming message to the node; it drops the message if
// the inbox is full (raft retries).
func (n *Node) Deliver(m Message) {
	select {
	case n.recvc <- m:
	default:
	}
}

// Propose replicates data and returns the FSM's result once applied here.
func (n *Node) Propose(ctx context.Context, data []byte) (any, error) {
	c := &call{data: data, ch: make(chan completion, 1)}
	select {
	case n.propc <- c:
	case <-n.donec:
		return nil, ErrStopped
	case <-ctx.Done():
		// Never handed over, but the documented contract only promises
		// "certainly not applied" for ErrNotLeader and ErrStopped.
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
	select {
	case r := <-c.ch:
		return r.res, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
	}
}

// ReadIndex returns once a linearizable read may be served locally.
func (n *Node) ReadIndex(ctx context.Context) error {
	if n.cfg.Bug == BugStaleRead {
		return nil // the bug: no confirmation at all
	}
	c := &call{ch: make(chan completion, 1)}
	select {
	case n.readc <- c:
	case <-n.donec:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case r := <-c.ch:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status is a snapshot of the node's state, refreshed after every batch.
func (n *Node) Status() Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.status
}

// Stop halts the node and waits for its goroutine; pending calls fail.
func (n *Node) Stop() {
	n.once.Do(func() { close(n.stopc) })
	<-n.donec
}

func (n *Node) run() {
	defer close(n.donec)
	tick, _, _ := ticks(n.cfg)
	ticker := n.cfg.Clock.NewTicker(tick)
	defer ticker.Stop()
	lastTick := n.cfg.Clock.Now()
	var props [][]byte
	var toks []any
	d := n.d
	for {
		props, toks = props[:0], toks[:0]
		handle := func(c *call, isRead bool) {
			if isRead {
				if err := d.readIndex(c); err != nil {
					c.ch <- completion{err: err}
				}
				return
			}
			props = append(props, c.data)
			toks = append(toks, c)
		}
		select {
		case <-n.stopc:
			n.shutdown()
			return
		case m := <-n.recvc:
			d.c.step(m)
		case c := <-n.propc:
			handle(c, false)
		case c := <-n.readc:
			handle(c, true)
		case <-ticker.C():
			// Ticks follow the node's clock, so skewing it forward
			// speeds timers up a little and backward stalls them until
			// it has caught up. At most two ticks per wakeup: a node
			// that was stalled (a slow fsync, SIGSTOP) must first read
			// its inbox instead of starting an election at once.
			now := n.cfg.Clock.Now()
			el := now.Sub(lastTick)
			if el < 0 || el > 2*tick {
				lastTick = now.Add(-min(max(el, 0), 2*tick))
				el = now.Sub(lastTick)
			}
			k := int(el / tick)
			lastTick = lastTick.Add(time.Duration(k) * tick)
			for range k {
				d.c.tick()
			}
			if d.lazy != nil {
				if err := d.lazy.flushDue(now); err != nil {
					n.log.Error("raft node stopping: storage failed", "err", err)
					n.shutdown()
					return
				}
			}
		}
		// Take everything else that is already waiting, up to a batch.
	drain:
		for i := 0; i < 4*n.cfg.MaxBatch && len(props) < n.cfg.MaxBatch; i++ {
			select {
			case m := <-n.recvc:
				d.c.step(m)
			case c := <-n.propc:
				handle(c, false)
			case c := <-n.readc:
				handle(c, true)
			default:
				break drain
			}
		}
		if len(props) > 0 {
			if err := d.propose(props, toks); err != nil {
				for _, t := range toks {
					t.(*call).ch <- completion{err: err}
				}
			}
		}
		early, err := d.applyCommitted()
		for _, c := range early {
			c.tok.(*call).ch <- c
		}
		var msgs []Message
		var done []completion
		if err == nil {
			msgs, done, err = d.process()
		}
		if err != nil {
			n.log.Error("raft node stopping: storage failed", "err", err)
			n.shutdown()
			return
		}
		for _, m := range msgs {
			n.cfg.Transport.Send(m)
		}
		for _, c := range done {
			c.tok.(*call).ch <- c
		}
		st := d.c.status()
		n.mu.Lock()
		old := n.status
		n.status = st
		n.mu.Unlock()
		if old.Role != st.Role || old.Term != st.Term {
			n.log.Info("raft role", "role", st.Role, "term", st.Term, "leader", st.Leader)
		}
	}
}

func (n *Node) shutdown() {
	if n.d.lazy != nil {
		_ = n.d.lazy.flush() // a clean stop loses nothing, even with the bug
	}
	for _, c := range n.d.stop() {
		c.tok.(*call).ch <- c
	}
	n.mu.Lock()
	n.status.Role, n.status.Leader = follower.String(), ""
	n.mu.Unlock()
}
