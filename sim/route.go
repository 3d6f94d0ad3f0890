package sim

import (
	"maps"
	"path/filepath"
	"slices"
	"time"
)

// Action is what a Rule does to the segment it takes.
type Action int

const (
	// Drop loses the segment; the connection's direction goes dark (TCP
	// cannot lose one segment and deliver the next), so its sender
	// eventually times out and dials again.
	Drop Action = iota + 1
	// Reorder holds the segment until a later segment on the same link
	// (on another connection) has been delivered, or 10 s passed.
	Reorder
	// CrashSender lets the segment go and crashes its sender at once, so
	// the node dies between sending it and whatever it would do next.
	CrashSender
)

// Rule takes the next segment from From to To carrying Kind ("" matches
// any) and does Action to it, once.
type Rule struct {
	From, To, Kind string
	Action         Action
	// After, if set, is called in a goroutine of its own after the rule
	// fired (to restart a crashed node).
	After func(Segment)
	// Delivered, if set, is called in a goroutine of its own when the
	// segment the rule took arrives (a reordered one: late).
	Delivered func(Segment)
}

func (r *Rule) matches(s *segment) bool {
	if s.fin || s.from == "" || s.to == "" {
		return false
	}
	if (r.From != "" && r.From != s.from) || (r.To != "" && r.To != s.to) {
		return false
	}
	return r.Kind == "" || slices.Contains(s.kinds, r.Kind)
}

// AddRule arms r.
func (w *World) AddRule(r *Rule) {
	w.mu.Lock()
	w.rules = append(w.rules, r)
	w.mu.Unlock()
}

// ClearRules disarms every rule that has not fired.
func (w *World) ClearRules() {
	w.mu.Lock()
	w.rules = nil
	w.mu.Unlock()
}

// Kinds lists the kinds of message node has sent so far, in order of first
// sight (what a fault aimed at a kind can choose from).
func (w *World) Kinds(node string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.kinds[node])
}

// KindCounts says how many messages of each kind the nodes have sent.
func (w *World) KindCounts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.counts)
}

// EventKind names what an Event records.
type EventKind string

const (
	EventSend    EventKind = "send"
	EventDrop    EventKind = "drop"
	EventHold    EventKind = "hold"
	EventCrash   EventKind = "crash"
	EventDeliver EventKind = "deliver"
)

// Event is one thing the world did, for a trace.
type Event struct {
	At      time.Time
	Kind    EventKind
	From    string
	To      string
	Segment Segment
}

// Trace calls f for every event from now on (nil stops).
func (w *World) Trace(f func(Event)) {
	w.mu.Lock()
	w.trace = f
	w.mu.Unlock()
}

func (w *World) emit(e Event) {
	w.mu.Lock()
	f := w.trace
	w.mu.Unlock()
	if f != nil {
		e.At = time.Now()
		f(e)
	}
}

// One segment in tailOdds between nodes is late by up to tailSpan times the
// base latency.
const (
	tailOdds = 50
	tailSpan = 50
)

// heldMax bounds how long Reorder holds a segment: longer than a sender's
// request timeout, so that the sender gives up and its next message
// travels on a new connection ahead of the held one.
const heldMax = 10 * time.Second

// send puts one segment on c's way to its peer.
func (w *World) send(c *conn, data []byte, fin bool) {
	w.mu.Lock()
	w.nextSeg++
	s := &segment{id: w.nextSeg, c: c, data: data, fin: fin, from: c.node, to: c.peer.node}
	between := s.from != "" && s.to != ""
	if between && !fin {
		if w.opt.Classify != nil {
			s.kinds = w.opt.Classify(s.from, s.to, data)
		}
		if len(s.kinds) == 0 {
			s.kinds = []string{"data"}
		}
		for _, k := range s.kinds {
			w.counts[k]++
			if !slices.Contains(w.kinds[s.from], k) {
				w.kinds[s.from] = append(w.kinds[s.from], k)
			}
		}
	}
	now := time.Now()
	s.readyAt = now.Add(w.delayLocked(s, between))
	if s.readyAt.Before(c.txLast) {
		s.readyAt = c.txLast // in order on one connection
	}
	c.txLast = s.readyAt
	var fired *Rule
	for i, r := range w.rules {
		if r.matches(s) {
			fired = r
			w.rules = slices.Delete(w.rules, i, i+1)
			break
		}
	}
	event := EventSend
	if fired != nil {
		s.delivered = fired.Delivered
		switch fired.Action {
		case Drop:
			event = EventDrop
		case Reorder:
			s.held = true
			w.held = append(w.held, s)
			event = EventHold
		}
	}
	if fired == nil || fired.Action != Drop {
		c.txq = append(c.txq, s)
	}
	w.mu.Unlock()

	if fired != nil && fired.Action == Drop {
		p := c.peer
		p.mu.Lock()
		p.dark = true
		p.mu.Unlock()
	}
	w.emit(Event{Kind: event, From: s.from, To: s.to, Segment: s.public()})
	if fired != nil && fired.Action == Reorder {
		time.AfterFunc(heldMax, func() { w.release(s) })
	}
	if fired == nil || fired.Action != Drop {
		time.AfterFunc(s.readyAt.Sub(now), func() { w.pump(c) })
	}
	if fired != nil {
		if fired.Action == CrashSender {
			w.Crash(s.from)
		}
		if fired.After != nil {
			w.Go(func() { fired.After(s.public()) })
		}
	}
}

// delayLocked draws the segment's one-way delay: the base latency, a link
// fault's latency and jitter, and a retransmission timeout per loss.
func (w *World) delayLocked(s *segment, between bool) time.Duration {
	base := w.opt.Latency
	if !between {
		// The harness's clients: no fault, a fixed draw from the world.
		return base/2 + time.Duration(w.rng.Int64N(int64(base)))
	}
	ls := w.linkLocked(s.from, s.to)
	d := base/2 + time.Duration(ls.rng.Int64N(int64(base)))
	if ls.rng.IntN(tailOdds) == 0 {
		// The long tail real networks have (a busy switch, a descheduled
		// sender): it widens the windows between messages where races live.
		d += time.Duration(ls.rng.Int64N(int64(tailSpan * base)))
	}
	f := w.fault
	if f.Links != nil && !slices.Contains(f.Links[s.from], s.to) {
		return d
	}
	d += f.Latency
	if f.Jitter > 0 {
		d += time.Duration(ls.rng.Int64N(int64(f.Jitter)))
	}
	for rto := 200 * time.Millisecond; f.Loss > 0 && ls.rng.Float64() < f.Loss && rto < time.Minute; rto *= 2 {
		d += rto
	}
	return d
}

// release lets a held segment go.
func (w *World) release(s *segment) {
	w.mu.Lock()
	was := s.held
	s.held = false
	w.held = slices.DeleteFunc(w.held, func(h *segment) bool { return h == s })
	w.mu.Unlock()
	if was {
		w.pump(s.c)
	}
}

// pump delivers c's due segments in order.
func (w *World) pump(c *conn) {
	var release []*segment
	var hooks []func() // Delivered hooks, run once the lock is let go
	w.mu.Lock()
	now := time.Now()
	for len(c.txq) > 0 {
		s := c.txq[0]
		if s.held || now.Before(s.readyAt) {
			break // a timer or a release pumps again
		}
		if s.from != "" && s.to != "" && w.cut[link{s.from, s.to}] {
			w.linkLocked(s.from, s.to).waiting[c] = true
			break
		}
		if h := w.pausedLocked(s.from, s.to); h != nil {
			if h.clock.heldConns == nil {
				h.clock.heldConns = map[*conn]bool{}
			}
			h.clock.heldConns[c] = true
			break
		}
		c.txq = c.txq[1:]
		c.peer.receive(s)
		if s.delivered != nil {
			d, pub := s.delivered, s.public()
			hooks = append(hooks, func() { d(pub) })
		}
		if s.from != "" && s.to != "" && !s.fin {
			// A held segment of this link goes once a later one arrived.
			for _, h := range w.held {
				if h.c != c && h.from == s.from && h.to == s.to && h.id < s.id {
					release = append(release, h)
				}
			}
		}
	}
	if len(c.txq) == 0 {
		c.mu.Lock()
		done := c.closed || c.err != nil
		c.mu.Unlock()
		if done {
			delete(w.conns, c)
		}
	}
	w.mu.Unlock()
	for _, h := range hooks {
		w.Go(h)
	}
	for _, s := range release {
		w.release(s)
	}
}

// pausedLocked returns the host of from or to that is paused, if any.
func (w *World) pausedLocked(from, to string) *host {
	for _, n := range []string{from, to} {
		if h := w.hosts[n]; n != "" && h != nil && h.clock.paused {
			return h
		}
	}
	return nil
}

// DiskRule crashes the next node (Node, or any if "") that makes a file of
// Kind durable — an fsync of it, or a rename onto its name — right after
// the write is durable and before the node does anything else: a power
// loss between a store's durable steps (a snapshot saved and its log not
// yet compacted, a vote persisted and not yet sent).
type DiskRule struct {
	Node, Kind string
	// After, if set, is called in a goroutine of its own after the crash
	// (to restart the node).
	After func(node string)
}

// FileKind is the kind of a durable write to path: its base name with
// digits folded to '#', so that numbered segments are one kind.
func FileKind(path string) string {
	b := []byte(filepath.Base(path))
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '#'
		}
	}
	return string(b)
}

// AddDiskRule arms r.
func (w *World) AddDiskRule(r *DiskRule) {
	w.mu.Lock()
	w.diskRules = append(w.diskRules, r)
	w.mu.Unlock()
}

// ClearDiskRules disarms every disk rule that has not fired.
func (w *World) ClearDiskRules() {
	w.mu.Lock()
	w.diskRules = nil
	w.mu.Unlock()
}

// DurableCounts says how many durable writes of each file kind the nodes
// have made (what a DiskRule can aim at).
func (w *World) DurableCounts() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.durableCounts)
}

// durable is inc's write to path becoming durable.
func (w *World) durable(inc *incarnation, path string) {
	kind := FileKind(path)
	node := inc.host.name
	w.mu.Lock()
	if inc.dead {
		w.mu.Unlock()
		return
	}
	w.durableCounts[kind]++
	var fired *DiskRule
	for i, r := range w.diskRules {
		if r.Kind == kind && (r.Node == "" || r.Node == node) {
			fired = r
			w.diskRules = slices.Delete(w.diskRules, i, i+1)
			break
		}
	}
	w.mu.Unlock()
	if fired == nil {
		return
	}
	w.Crash(node)
	if fired.After != nil {
		w.Go(func() { fired.After(node) })
	}
}
