package raft

import (
	"fmt"
	"slices"
	"sync"
)

// InmemLog is a LogStore in memory, for tests and the simulation. Like the
// file store, an empty log accepts any first index.
type InmemLog struct {
	mu   sync.Mutex
	ents []Entry
}

var _ LogStore = (*InmemLog)(nil)

// NewInmemLog returns an empty log.
func NewInmemLog() *InmemLog { return &InmemLog{} }

func (l *InmemLog) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ents) == 0 {
		return 0, nil
	}
	return l.ents[0].Index, nil
}

func (l *InmemLog) LastIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ents) == 0 {
		return 0, nil
	}
	return l.ents[len(l.ents)-1].Index, nil
}

func (l *InmemLog) Entries(lo, hi uint64) ([]Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lo >= hi {
		return nil, nil
	}
	if len(l.ents) == 0 || lo < l.ents[0].Index || hi > l.ents[len(l.ents)-1].Index+1 {
		return nil, fmt.Errorf("inmem log: entries [%d, %d) out of range", lo, hi)
	}
	f := l.ents[0].Index
	return slices.Clone(l.ents[lo-f : hi-f]), nil
}

func (l *InmemLog) Append(ents []Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range ents {
		if n := len(l.ents); n > 0 && e.Index != l.ents[n-1].Index+1 {
			return fmt.Errorf("inmem log: append %d after %d", e.Index, l.ents[n-1].Index)
		}
		l.ents = append(l.ents, e)
	}
	return nil
}

func (l *InmemLog) TruncateSuffix(from uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ents) == 0 || from > l.ents[len(l.ents)-1].Index {
		return nil
	}
	from = max(from, l.ents[0].Index)
	l.ents = slices.Clone(l.ents[:from-l.ents[0].Index])
	return nil
}

func (l *InmemLog) TruncatePrefix(upto uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ents) == 0 || upto < l.ents[0].Index {
		return nil
	}
	k := min(uint64(len(l.ents)), upto-l.ents[0].Index+1)
	l.ents = slices.Clone(l.ents[k:])
	return nil
}

// InmemStable is a StableStore in memory.
type InmemStable struct {
	mu sync.Mutex
	hs HardState
}

var _ StableStore = (*InmemStable)(nil)

func (s *InmemStable) HardState() (HardState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hs, nil
}

func (s *InmemStable) SetHardState(hs HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hs = hs
	return nil
}

// InmemSnapshots is a SnapshotStore in memory.
type InmemSnapshots struct {
	mu sync.Mutex
	s  *Snapshot
}

var _ SnapshotStore = (*InmemSnapshots)(nil)

func (s *InmemSnapshots) Save(snap Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.s = &snap
	return nil
}

func (s *InmemSnapshots) Latest() (Snapshot, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s == nil {
		return Snapshot{}, false, nil
	}
	return *s.s, true, nil
}

// InmemNetwork connects Nodes in one process. Links can be cut to make
// partitions; a cut link drops messages silently, like a lost packet.
type InmemNetwork struct {
	mu    sync.Mutex
	nodes map[string]func(Message)
	cut   map[[2]string]bool
}

// NewInmemNetwork returns an empty network.
func NewInmemNetwork() *InmemNetwork {
	return &InmemNetwork{nodes: map[string]func(Message){}, cut: map[[2]string]bool{}}
}

// Register routes messages for id to deliver (normally Node.Deliver);
// nil unregisters (a stopped node).
func (n *InmemNetwork) Register(id string, deliver func(Message)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if deliver == nil {
		delete(n.nodes, id)
		return
	}
	n.nodes[id] = deliver
}

// Isolate cuts every link to and from id.
func (n *InmemNetwork) Isolate(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for other := range n.nodes {
		n.cut[[2]string{id, other}] = true
		n.cut[[2]string{other, id}] = true
	}
}

// Heal restores every link.
func (n *InmemNetwork) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
}

// Transport returns the transport that node id sends with.
func (n *InmemNetwork) Transport(id string) Transport { return inmemTransport{n: n, from: id} }

type inmemTransport struct {
	n    *InmemNetwork
	from string
}

func (t inmemTransport) Send(m Message) {
	t.n.mu.Lock()
	deliver := t.n.nodes[m.To]
	cut := t.n.cut[[2]string{t.from, m.To}]
	t.n.mu.Unlock()
	if deliver != nil && !cut {
		deliver(m)
	}
}
