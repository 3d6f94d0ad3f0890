package raft

import (
	"errors"
	"fmt"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultElectionTimeout   = 500 * time.Millisecond
	DefaultHeartbeatInterval = 50 * time.Millisecond
	DefaultSnapshotThreshold = 8192
	DefaultMaxBatch          = 512
)

// driver owns a core and does its I/O: it persists what the core hands
// over (hard state first, then the log), then releases messages, applies
// committed entries to the FSM, takes snapshots, and completes proposals
// and reads. It is single-threaded; the Node runtime and the simulation
// both drive it, so the simulation tests the same persistence order.
type driver struct {
	c   *core
	cfg Config

	pending     []pendingProp // ordered by index, all of pendingTerm
	pendingTerm uint64
	readToks    map[uint64]any
	readNext    uint64
	confirmed   []readState // leadership confirmed, waiting for apply
	snapIndex   uint64      // index of the latest saved snapshot
	done        []completion

	// lazy is the ack-before-fsync bug's log (nil without the bug).
	lazy *lazyLog

	// onApply, if set, sees every applied entry (the simulation's checks).
	onApply func(e Entry)
	// sendEarly, if set, receives the leader's appends and heartbeats
	// before the leader's own fsync, so that the followers' fsyncs run in
	// parallel with it (Raft thesis §10.2.1). This is safe because the
	// leader counts itself toward a commit only once its own log is
	// durable; everything else (votes, acknowledgements) waits for the
	// fsync.
	sendEarly func(Message)
}

type pendingProp struct {
	index, term uint64
	tok         any
}

// completion finishes a proposal or read identified by tok.
type completion struct {
	tok any
	res any
	err error
}

func withDefaults(cfg Config) Config {
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = DefaultElectionTimeout
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	return cfg
}

// tickInterval and the tick counts derived from the durations.
func ticks(cfg Config) (tick time.Duration, election, heartbeat int) {
	tick = min(cfg.HeartbeatInterval, cfg.ElectionTimeout/10)
	tick = max(tick, time.Millisecond)
	election = max(2, int(cfg.ElectionTimeout/tick))
	heartbeat = max(1, int(cfg.HeartbeatInterval/tick))
	return tick, election, heartbeat
}

// newDriver restores the node from its stores.
func newDriver(cfg Config) (*driver, error) {
	cfg = withDefaults(cfg)
	if cfg.Log == nil || cfg.Stable == nil || cfg.Snapshots == nil || cfg.FSM == nil {
		return nil, errors.New("raft: config needs Log, Stable, Snapshots and FSM")
	}
	if !knownBug(cfg.Bug) {
		return nil, fmt.Errorf("raft: unknown bug %q", cfg.Bug)
	}
	member := false
	for _, p := range cfg.Peers {
		member = member || p == cfg.ID
	}
	if cfg.ID == "" || !member {
		return nil, fmt.Errorf("raft: id %q is not among the peers %v", cfg.ID, cfg.Peers)
	}
	hs, err := cfg.Stable.HardState()
	if err != nil {
		return nil, fmt.Errorf("raft: read hard state: %w", err)
	}
	snap, hasSnap, err := cfg.Snapshots.Latest()
	if err != nil {
		return nil, fmt.Errorf("raft: read snapshot: %w", err)
	}
	if hasSnap {
		if err := cfg.FSM.Restore(snap.Data); err != nil {
			return nil, fmt.Errorf("raft: restore snapshot %d: %w", snap.Index, err)
		}
	}
	ents, err := loadLog(cfg.Log, snap)
	if err != nil {
		return nil, err
	}
	var lazy *lazyLog
	if cfg.Bug == BugAckBeforeFsync {
		lazy = &lazyLog{under: cfg.Log, last: cfg.Clock.Now()}
		cfg.Log = lazy
	}
	_, election, heartbeat := ticks(cfg)
	c := newCore(coreConfig{
		id: cfg.ID, peers: cfg.Peers, bug: cfg.Bug,
		electionTicks: election, heartbeatTicks: heartbeat,
		maxBatch: cfg.MaxBatch, seed: cfg.Seed, preVote: !cfg.DisablePreVote,
	}, hs, snap.Index, snap.Term, ents)
	return &driver{c: c, cfg: cfg, readToks: map[uint64]any{}, snapIndex: snap.Index, lazy: lazy}, nil
}

// loadLog reads the entries after the snapshot, first dropping what the
// snapshot covers and a suffix that does not follow from it (a crash between
// saving a received snapshot and truncating the log leaves one).
func loadLog(log LogStore, snap Snapshot) ([]Entry, error) {
	first, err := log.FirstIndex()
	if err != nil {
		return nil, fmt.Errorf("raft: read log: %w", err)
	}
	last, err := log.LastIndex()
	if err != nil {
		return nil, fmt.Errorf("raft: read log: %w", err)
	}
	if last == 0 {
		return nil, nil
	}
	if first <= snap.Index {
		keep := false
		if last >= snap.Index {
			e, err := log.Entries(snap.Index, snap.Index+1)
			if err != nil {
				return nil, fmt.Errorf("raft: read log: %w", err)
			}
			keep = len(e) == 1 && e[0].Term == snap.Term
		}
		if err := log.TruncatePrefix(snap.Index); err != nil {
			return nil, fmt.Errorf("raft: drop log entries covered by snapshot %d: %w", snap.Index, err)
		}
		if !keep {
			if err := log.TruncateSuffix(snap.Index + 1); err != nil {
				return nil, fmt.Errorf("raft: drop log entries not following snapshot %d: %w", snap.Index, err)
			}
			return nil, nil
		}
		first = snap.Index + 1
		if last < first {
			return nil, nil
		}
	}
	if first != snap.Index+1 {
		return nil, fmt.Errorf("raft: log starts at %d but the snapshot ends at %d: entries are missing", first, snap.Index)
	}
	ents, err := log.Entries(first, last+1)
	if err != nil {
		return nil, fmt.Errorf("raft: read log [%d, %d]: %w", first, last, err)
	}
	for i, e := range ents {
		if e.Index != first+uint64(i) {
			return nil, fmt.Errorf("raft: log entry %d found where %d belongs", e.Index, first+uint64(i))
		}
	}
	return ents, nil
}

func (d *driver) complete(tok, res any, err error) {
	d.done = append(d.done, completion{tok: tok, res: res, err: err})
}

// propose appends commands (one token each) if this node leads.
func (d *driver) propose(datas [][]byte, toks []any) error {
	first, term, ok := d.c.propose(datas)
	if !ok {
		return ErrNotLeader
	}
	if term != d.pendingTerm {
		d.failPending(ErrUnknownOutcome)
		d.pendingTerm = term
	}
	for i := range datas {
		d.pending = append(d.pending, pendingProp{index: first + uint64(i), term: term, tok: toks[i]})
	}
	return nil
}

func (d *driver) failPending(err error) {
	for _, p := range d.pending {
		d.complete(p.tok, nil, err)
	}
	d.pending = nil
}

// readIndex starts a read; its completion comes from process.
func (d *driver) readIndex(tok any) error {
	if d.cfg.Bug == BugStaleRead {
		d.complete(tok, nil, nil)
		return nil
	}
	d.readNext++
	if !d.c.readIndex(d.readNext) {
		return ErrNotLeader
	}
	d.readToks[d.readNext] = tok
	return nil
}

// applyCommitted applies what is already committed and durable, before the
// next fsync: a batch's replies then do not wait for the next batch's
// fsync. It returns the completions so far.
func (d *driver) applyCommitted() ([]completion, error) {
	if d.c.installSnap != nil {
		return nil, nil // the FSM is not restored yet
	}
	if err := d.apply(); err != nil {
		return nil, err
	}
	d.releaseReads()
	done := d.done
	d.done = nil
	return done, nil
}

// process persists, releases the messages to send, applies, and returns
// the completions collected since the last call. An error is a storage
// failure: the node must stop.
func (d *driver) process() ([]Message, []completion, error) {
	c := d.c
	rd := c.ready()
	if d.sendEarly != nil && rd.hs == nil {
		late := rd.msgs[:0]
		for _, m := range rd.msgs {
			if m.Type == MsgApp || m.Type == MsgHeartbeat {
				d.sendEarly(m)
			} else {
				late = append(late, m)
			}
		}
		rd.msgs = late
	}
	hs := c.persistedHS
	if rd.hs != nil {
		hs = *rd.hs
		stored := hs
		if d.cfg.Bug == BugForgetVote {
			stored.Vote = ""
		}
		if err := d.cfg.Stable.SetHardState(stored); err != nil {
			return nil, nil, fmt.Errorf("raft: persist hard state: %w", err)
		}
	}
	if s := rd.snap; s != nil {
		if err := d.installSnapshot(*s); err != nil {
			return nil, nil, err
		}
	}
	if rd.truncFrom > 0 {
		if err := d.cfg.Log.TruncateSuffix(rd.truncFrom); err != nil {
			return nil, nil, fmt.Errorf("raft: truncate log from %d: %w", rd.truncFrom, err)
		}
	}
	last := c.stabled
	if len(rd.ents) > 0 {
		if err := d.cfg.Log.Append(rd.ents); err != nil {
			return nil, nil, fmt.Errorf("raft: append to log: %w", err)
		}
		last = rd.ents[len(rd.ents)-1].Index
	}
	c.persisted(hs, last)

	msgs := rd.msgs
	for i := range msgs {
		if msgs[i].Type == MsgSnap && msgs[i].Snapshot == nil {
			s, ok, err := d.cfg.Snapshots.Latest()
			if err != nil {
				return nil, nil, fmt.Errorf("raft: read snapshot to send: %w", err)
			}
			if ok {
				msgs[i].Snapshot = &s
			}
		}
	}

	if d.cfg.Bug == BugAckBeforeCommit && c.role == leader && c.term == d.pendingTerm {
		// The bug: durable on the leader is taken for committed.
		for len(d.pending) > 0 && d.pending[0].index <= c.stabled {
			d.complete(d.pending[0].tok, nil, nil)
			d.pending = d.pending[1:]
		}
	}
	if err := d.apply(); err != nil {
		return nil, nil, err
	}
	if len(d.pending) > 0 && (c.role != leader || c.term != d.pendingTerm) {
		d.failPending(ErrUnknownOutcome)
	}
	ready, dropped := c.takeReads()
	for _, id := range dropped {
		d.complete(d.readToks[id], nil, ErrNotLeader)
		delete(d.readToks, id)
	}
	d.confirmed = append(d.confirmed, ready...)
	d.releaseReads()
	done := d.done
	d.done = nil
	return msgs, done, nil
}

func (d *driver) releaseReads() {
	i := 0
	for ; i < len(d.confirmed) && d.confirmed[i].index <= d.c.applied; i++ {
		id := d.confirmed[i].id
		d.complete(d.readToks[id], nil, nil)
		delete(d.readToks, id)
	}
	// Reads confirmed before a step-down stay: they are still correct
	// once applied, and this node keeps applying as a follower.
	d.confirmed = d.confirmed[i:]
}

func (d *driver) installSnapshot(s Snapshot) error {
	if err := d.cfg.Snapshots.Save(s); err != nil {
		return fmt.Errorf("raft: save received snapshot %d: %w", s.Index, err)
	}
	if err := d.cfg.Log.TruncatePrefix(s.Index); err != nil {
		return fmt.Errorf("raft: drop log up to snapshot %d: %w", s.Index, err)
	}
	if err := d.cfg.Log.TruncateSuffix(s.Index + 1); err != nil {
		return fmt.Errorf("raft: drop log after snapshot %d: %w", s.Index, err)
	}
	if err := d.cfg.FSM.Restore(s.Data); err != nil {
		return fmt.Errorf("raft: restore snapshot %d: %w", s.Index, err)
	}
	d.snapIndex = s.Index
	return nil
}

func (d *driver) apply() error {
	c := d.c
	for {
		ents := c.toApply(d.cfg.MaxBatch)
		if len(ents) == 0 {
			break
		}
		for _, e := range ents {
			var res any
			if e.Type == EntryCommand {
				res = d.cfg.FSM.Apply(e.Index, e.Data)
			}
			c.appliedTo(e.Index)
			for len(d.pending) > 0 && d.pending[0].index <= e.Index {
				p := d.pending[0]
				d.pending = d.pending[1:]
				if p.index == e.Index && p.term == e.Term {
					d.complete(p.tok, res, nil)
				} else {
					d.complete(p.tok, nil, ErrUnknownOutcome)
				}
			}
			if d.onApply != nil {
				d.onApply(e)
			}
		}
	}
	if c.applied-d.snapIndex >= d.cfg.SnapshotThreshold {
		return d.snapshot()
	}
	return nil
}

// snapshot saves the FSM at the applied index and compacts the log.
func (d *driver) snapshot() error {
	c := d.c
	i := c.applied
	if d.cfg.Bug == BugSnapshotAtCommit {
		i = c.commit // the bug: labels the state machine with the commit index, which may be ahead of it
	}
	t, ok := c.termAt(i)
	if !ok {
		return nil
	}
	data, err := d.cfg.FSM.Snapshot()
	if err != nil {
		return fmt.Errorf("raft: snapshot the state machine at %d: %w", i, err)
	}
	if err := d.cfg.Snapshots.Save(Snapshot{Index: i, Term: t, Peers: c.peers, Data: data}); err != nil {
		return fmt.Errorf("raft: save snapshot %d: %w", i, err)
	}
	d.snapIndex = i
	c.compact(i)
	if err := d.cfg.Log.TruncatePrefix(i); err != nil {
		return fmt.Errorf("raft: compact log up to %d: %w", i, err)
	}
	return nil
}

// stop fails everything still waiting.
func (d *driver) stop() []completion {
	d.failPending(ErrUnknownOutcome)
	for id, tok := range d.readToks {
		d.complete(tok, nil, ErrStopped)
		delete(d.readToks, id)
	}
	d.confirmed = nil
	done := d.done
	d.done = nil
	return done
}
