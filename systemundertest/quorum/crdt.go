package quorum

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Sets and counters are state-based CRDTs (Shapiro et al.), stored beside
// the registers in the same replicas, log and digests under keys of their
// own:
//
//   - a set is add-only (a G-set): its state is its elements, and two
//     states merge by union;
//   - a counter is a PN counter: each replica that took increments keeps
//     its own entry (a sequence number, the sum of its increments P and of
//     its decrements N), only that replica ever changes its entry, and two
//     states merge entry by entry, the higher sequence number winning. The
//     value is the sum of P minus the sum of N.
//
// Merging is commutative, associative and idempotent, so replicas may
// receive states in any order, any number of times, and converge; no
// version is needed and none is stored (a record with the zero version
// merges). What ABD does for registers, merging does here:
//
//   - An add is stored at W replicas before it is acknowledged (a set add
//     sends the one-element state; a counter add is made by one replica,
//     which sends its new state on). Any later read quorum meets one of
//     them, so a read never misses an acknowledged add.
//   - A read merges what R replicas hold and, unless W of them already hold
//     the merge, writes the merge back until W do before answering: an
//     element or increment once read is then on a write quorum, and no
//     later read misses it (no element appears and vanishes).
//   - The anti-entropy pass reads every key at all its replicas and merges
//     back, so every replica ends with the same state.
//
// A counter add carries the client's request id. Which replica makes the
// increment is a function of the id (one of the key's replicas, by hash),
// and that replica keeps the ids of its last maxCounterIDs increments of
// the key in its entry: a retry, through any coordinator, reaches the same
// replica and is applied once. The price: while that replica is down or
// cut off, adds with ids it owns fail (certainly not applied, or unknown)
// until it returns; a retry later than maxCounterIDs of its increments of
// the key counts again. An add without an id goes to the key's first
// replica and is never deduplicated.
//
// Bugs: set-lww keeps a set as a register (read, add, write a new version:
// concurrent adds overwrite each other); set-repair-overwrites repairs a
// set the way registers are repaired, by copying one reply over the
// others.

const (
	setPrefix     = "\x00set\x00"
	counterPrefix = "\x00counter\x00"
	// replaceMark is the Version.Node of a record that replaces a set's
	// state instead of merging into it (only set-repair-overwrites sends one).
	replaceMark = "\x00replace"
	// maxCounterIDs is how many request ids of a key's increments a
	// replica remembers.
	maxCounterIDs = 256
)

func isSetKey(k string) bool     { return strings.HasPrefix(k, setPrefix) }
func isCounterKey(k string) bool { return strings.HasPrefix(k, counterPrefix) }

// merges reports whether a record or put of e merges into the state held
// (a CRDT key stored without a version) rather than being ordered by
// version. Under set-lww sets are stored with versions, as registers.
func merges(e entry) bool {
	return (isSetKey(e.Key) || isCounterKey(e.Key)) && (e.Ver == Version{})
}

func replaces(e entry) bool { return e.Ver.Node == replaceMark }

// mergeValues merges two encoded states of key (the canonical encoding of
// their merge, so equal states are equal strings).
func mergeValues(key, a, b string) string {
	if isCounterKey(key) {
		x, y := decodeCounter(a), decodeCounter(b)
		for node, e := range y {
			if cur, ok := x[node]; !ok || cur.Seq < e.Seq {
				x[node] = e
			}
		}
		return encodeCounter(x)
	}
	return encodeSet(append(decodeSet(a), decodeSet(b)...))
}

// encodeSet is the canonical encoding of a set: its elements sorted and
// unique, each length-prefixed.
func encodeSet(elems []string) string {
	sort.Strings(elems)
	elems = slices.Compact(elems)
	var b []byte
	for _, e := range elems {
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return string(b)
}

// decodeSet reads an encoded set as far as it is whole (the store only
// writes whole ones).
func decodeSet(s string) []string {
	var out []string
	b := []byte(s)
	for len(b) > 0 {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			break
		}
		out = append(out, string(b[n:n+int(l)]))
		b = b[n+int(l):]
	}
	return out
}

// pnEntry is one replica's part of a PN counter.
type pnEntry struct {
	Seq, P, N uint64
	IDs       []string // request ids of its latest increments, oldest first
}

type pnCounter map[string]pnEntry

func (c pnCounter) value() int64 {
	var v int64
	for _, e := range c {
		v += int64(e.P) - int64(e.N)
	}
	return v
}

// encodeCounter is the canonical encoding: entries sorted by replica.
func encodeCounter(c pnCounter) string {
	nodes := make([]string, 0, len(c))
	for n := range c {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	var b []byte
	str := func(s string) { b = append(binary.AppendUvarint(b, uint64(len(s))), s...) }
	for _, n := range nodes {
		e := c[n]
		str(n)
		for _, u := range []uint64{e.Seq, e.P, e.N, uint64(len(e.IDs))} {
			b = binary.AppendUvarint(b, u)
		}
		for _, id := range e.IDs {
			str(id)
		}
	}
	return string(b)
}

func decodeCounter(s string) pnCounter {
	c := pnCounter{}
	b := []byte(s)
	bad := false
	u := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		l := u()
		if bad || uint64(len(b)) < l {
			bad = true
			return ""
		}
		s := string(b[:l])
		b = b[l:]
		return s
	}
	for len(b) > 0 && !bad {
		n := str()
		e := pnEntry{Seq: u(), P: u(), N: u()}
		k := u()
		for i := uint64(0); i < k && !bad; i++ {
			e.IDs = append(e.IDs, str())
		}
		if !bad {
			c[n] = e
		}
	}
	return c
}

// mergePut merges e's state into what the replica holds, durably.
func (r *replica) mergePut(e entry) error {
	r.mu.RLock()
	cur, ok := r.data[e.Key]
	r.mu.RUnlock()
	if ok && mergeValues(e.Key, cur.Value, e.Value) == cur.Value {
		return nil // nothing new: already durably held
	}
	// The record is the state sent, not the merge: replay merges every
	// record of the key, which comes to the same.
	if err := r.wal.commit(e); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur = r.data[e.Key]
	r.data[e.Key] = entry{Key: e.Key, Value: mergeValues(e.Key, cur.Value, e.Value)}
	r.applied.Add(1)
	return nil
}

// replacePut stores e's state in place of what the replica holds (bug
// set-repair-overwrites).
func (r *replica) replacePut(e entry) error {
	if err := r.wal.commit(e); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data[e.Key] = entry{Key: e.Key, Value: e.Value}
	r.applied.Add(1)
	return nil
}

// incr makes an increment of the counter key as replica node: once per
// id. It returns the replica's state of the key afterwards.
func (r *replica) incr(key, node string, delta int64, id string) (string, error) {
	r.incrMu.Lock() // one increment at a time: each reads the entry the last left
	defer r.incrMu.Unlock()
	cur, _ := r.get(key)
	e := decodeCounter(cur.Value)[node]
	if id != "" && slices.Contains(e.IDs, id) {
		return cur.Value, nil
	}
	e.Seq++
	if delta >= 0 {
		e.P += uint64(delta)
	} else {
		e.N += uint64(-delta)
	}
	if id != "" {
		e.IDs = append(e.IDs, id)
		if len(e.IDs) > maxCounterIDs {
			e.IDs = slices.Clone(e.IDs[len(e.IDs)-maxCounterIDs:])
		}
	}
	if err := r.mergePut(entry{Key: key, Value: encodeCounter(pnCounter{node: e})}); err != nil {
		return "", err
	}
	after, _ := r.get(key)
	return after.Value, nil
}

// localIncr makes an increment as this node's replica.
func (s *Store) localIncr(in incrReq) (string, error) {
	if s.closed.Load() {
		return "", errClosed
	}
	if !isCounterKey(in.Key) {
		return "", fmt.Errorf("incr of %q, which is not a counter", show(in.Key))
	}
	return s.rep.incr(in.Key, s.cfg.ID, in.Delta, in.ID)
}

type incrReq struct {
	Key   string `json:"key"`
	Delta int64  `json:"delta"`
	ID    string `json:"id,omitempty"`
}

var (
	_ api.SetStore     = (*Store)(nil)
	_ api.CounterStore = (*Store)(nil)
)

// SetAdd stores the one-element state {elem} at a write quorum.
func (s *Store) SetAdd(ctx context.Context, key, elem string) error {
	if s.closed.Load() {
		return api.NotApplied("set add %s: node closed", key)
	}
	k := setPrefix + key
	if s.cfg.Bug == BugSetLWW {
		return s.setAddLWW(ctx, k, elem)
	}
	return s.spread(ctx, "set add", entry{Key: k, Value: encodeSet([]string{elem})}, nil, s.q.w)
}

// spread stores e at need of the key's replicas (or its sloppy fallbacks),
// skipping those in done. Once a put may have reached a replica, falling
// short is unknown.
func (s *Store) spread(ctx context.Context, what string, e entry, done []string, need int) error {
	home, fallbacks := s.targets(e.Key)
	home = slices.DeleteFunc(slices.Clone(home), func(id string) bool { return slices.Contains(done, id) })
	fallbacks = slices.DeleteFunc(slices.Clone(fallbacks), func(id string) bool { return slices.Contains(done, id) })
	if need <= 0 {
		return nil
	}
	acks, sent := s.gather(ctx, home, fallbacks, need, s.putOp(e))
	switch {
	case len(acks) >= need:
		return nil
	case !sent && len(done) == 0:
		return api.NotApplied("%s %s: no replica could be reached (need %d)", what, show(e.Key), need)
	default:
		return api.Unknown("%s %s: %d more replicas acknowledged, need %d", what, show(e.Key), len(acks), need)
	}
}

// SetRead merges a read quorum's states (see readCRDT).
func (s *Store) SetRead(ctx context.Context, key string) ([]string, error) {
	if s.closed.Load() {
		return nil, api.NotApplied("set read %s: node closed", key)
	}
	r, err := s.read(ctx, setPrefix+key, false)
	if err != nil {
		return nil, err
	}
	return decodeSet(r.Value), nil
}

// CounterAdd has the replica the id picks make the increment, then spreads
// that replica's state until a write quorum holds it.
func (s *Store) CounterAdd(ctx context.Context, key string, delta int64, id string) error {
	if s.closed.Load() {
		return api.NotApplied("counter add %s: node closed", key)
	}
	k := counterPrefix + key
	reps := s.Replicas(k)
	by := reps[idIndex(id, len(reps))]
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
	var st getResp
	err := s.call(rctx, by, "incr", incrReq{Key: k, Delta: delta, ID: id}, &st)
	cancel()
	if err != nil {
		if notSent(err) {
			return api.NotApplied("counter add %s: replica %s, which makes the increments of this id, cannot be reached: %v", key, by, err)
		}
		return api.Unknown("counter add %s: replica %s: %v", key, by, err)
	}
	return s.spread(ctx, "counter add", entry{Key: k, Value: st.Value}, []string{by}, s.q.w-1)
}

// idIndex picks the replica, of n, that makes the increments of id (the
// first for no id).
func idIndex(id string, n int) int {
	if id == "" {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// CounterRead merges a read quorum's states (see readCRDT).
func (s *Store) CounterRead(ctx context.Context, key string) (int64, error) {
	if s.closed.Load() {
		return 0, api.NotApplied("counter read %s: node closed", key)
	}
	r, err := s.read(ctx, counterPrefix+key, false)
	if err != nil {
		return 0, err
	}
	return decodeCounter(r.Value).value(), nil
}

// readCRDT merges what r replicas (all, for anti-entropy) hold of key and
// writes the merge back until w of them hold it.
func (s *Store) readCRDT(ctx context.Context, key string, all bool) (getResp, error) {
	home, fallbacks := s.targets(key)
	r, w := s.q.r, s.q.w
	if all {
		home, fallbacks = s.Replicas(key), nil
		r, w = len(home), len(home)
	}
	oks, _ := s.gather(ctx, home, fallbacks, r, s.queryOp(key))
	if len(oks) < r {
		return getResp{}, api.NotApplied("read %s: %d of %d replicas answered, need %d", show(key), len(oks), len(home), r)
	}
	if s.cfg.Bug == BugSetRepairOverwrites && isSetKey(key) {
		return s.overwriteRepair(ctx, key, oks, home, fallbacks, w)
	}
	var best getResp
	for _, o := range oks {
		if o.resp.Found {
			best = getResp{Found: true, Value: mergeValues(key, best.Value, o.resp.Value)}
		}
	}
	if !best.Found {
		return best, nil
	}
	var holders []string
	for _, o := range oks {
		if o.resp.Found && o.resp.Value == best.Value {
			holders = append(holders, o.id)
		}
	}
	if err := s.writeBack(ctx, key, best.Value, Version{}, holders, home, fallbacks, w); err != nil {
		return getResp{}, err
	}
	return best, nil
}

// writeBack sends value to replicas outside holders until w hold it. A
// failure is not applied: it spread only what adds had already stored.
func (s *Store) writeBack(ctx context.Context, key, value string, ver Version, holders, home, fallbacks []string, w int) error {
	if len(holders) >= w {
		return nil
	}
	var stale, stray []string
	for _, id := range home {
		if !slices.Contains(holders, id) {
			stale = append(stale, id)
		}
	}
	for _, id := range fallbacks {
		if !slices.Contains(holders, id) {
			stray = append(stray, id)
		}
	}
	acks, _ := s.gather(ctx, stale, stray, w-len(holders), s.putOp(entry{Key: key, Value: value, Ver: ver}))
	if len(holders)+len(acks) < w {
		return api.NotApplied("read %s: write-back reached %d of %d replicas, need %d", show(key), len(holders)+len(acks), len(home), w)
	}
	return nil
}

// setAddLWW is bug set-lww: the set is a register, read, changed and
// written back under a new version. Two adds that read the same version
// both write, and the later version erases the other's element.
func (s *Store) setAddLWW(ctx context.Context, k, elem string) error {
	cur, err := s.read(ctx, k, false)
	if err != nil {
		return err
	}
	v := encodeSet(append(decodeSet(cur.Value), elem))
	return s.write(ctx, k, v, s.nextVersion(cur.Ver.Counter))
}

// overwriteRepair is bug set-repair-overwrites: the read repairs a set as
// registers are repaired, by pushing the reply with the newest version to
// the replicas that differ, in place of what they hold. A set's states
// carry no version (all equal), so the first reply wins and is the answer.
func (s *Store) overwriteRepair(ctx context.Context, key string, oks []reply, home, fallbacks []string, w int) (getResp, error) {
	best := oks[0].resp
	var holders []string
	for _, o := range oks {
		if o.resp.Found == best.Found && o.resp.Value == best.Value {
			holders = append(holders, o.id)
		}
	}
	if !best.Found {
		return best, nil
	}
	if err := s.writeBack(ctx, key, best.Value, Version{Node: replaceMark}, holders, home, fallbacks, w); err != nil {
		return getResp{}, err
	}
	return best, nil
}

// digestKey names a key in Digest.Values, readable in reports: "(set)
// s0", "(counter) c3" (no register key of the workloads has a space).
func digestKey(key string) string {
	switch {
	case isSetKey(key):
		return "(set) " + key[len(setPrefix):]
	case isCounterKey(key):
		return "(counter) " + key[len(counterPrefix):]
	}
	return key
}

// show names a key in messages: "set s0", "counter c3".
func show(key string) string {
	return strings.TrimSpace(strings.ReplaceAll(key, "\x00", " "))
}
