package quorum

import (
	"sort"
	"sync"
	"sync/atomic"
)

// replica is this node's share of the data: the newest durable version of
// each key it was sent. Memory only ever holds what the log made durable,
// so nothing a reader saw can vanish in a crash (except under
// ack-before-fsync, which is the point of that bug).
type replica struct {
	wal     *wal
	applied atomic.Uint64
	// overwrite is bug put-overwrites-newer: any other version replaces the
	// one held, older or not.
	overwrite bool

	mu   sync.RWMutex
	data map[string]entry
	// incrMu orders counter increments (crdt.go).
	incrMu sync.Mutex
}

func newReplica(w *wal, live []entry, overwrite bool) *replica {
	r := &replica{wal: w, data: make(map[string]entry, len(live)), overwrite: overwrite}
	for _, e := range live {
		r.data[e.Key] = e
	}
	return r
}

func (r *replica) get(key string) (entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.data[key]
	return e, ok
}

// put stores e if it is newer than what the replica holds and returns once
// it is durable. An older or equal version is acknowledged without a write:
// the replica already durably holds something at least as new, which is all
// a quorum needs to know.
func (r *replica) put(e entry) error {
	switch {
	case merges(e): // a set or counter state (crdt.go)
		return r.mergePut(e)
	case replaces(e):
		return r.replacePut(e)
	}
	r.mu.RLock()
	cur, ok := r.data[e.Key]
	r.mu.RUnlock()
	if ok && !r.supersedes(e, cur) {
		return nil
	}
	if err := r.wal.commit(e); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Concurrent puts of one key may finish their fsyncs in any order.
	if cur, ok := r.data[e.Key]; !ok || r.supersedes(e, cur) {
		r.data[e.Key] = e
		r.applied.Add(1)
	}
	return nil
}

// supersedes reports whether e replaces cur: a newer version does.
func (r *replica) supersedes(e, cur entry) bool {
	if r.overwrite {
		return e.Ver != cur.Ver // the bug: an older version rolls the key back
	}
	return cur.Ver.Less(e.Ver)
}

func (r *replica) keys() []string {
	r.mu.RLock()
	out := make([]string, 0, len(r.data))
	for k := range r.data {
		out = append(out, k)
	}
	r.mu.RUnlock()
	sort.Strings(out)
	return out
}

// snapshot returns the entries sorted by key.
func (r *replica) snapshot() []entry {
	r.mu.RLock()
	out := make([]entry, 0, len(r.data))
	for _, e := range r.data {
		out = append(out, e)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
