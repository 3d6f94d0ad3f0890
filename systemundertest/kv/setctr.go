package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// Sets and counters.
//
// A set add (opcode 6) and a counter add (opcode 7) are log entries like a
// put; reads go through ReadIndex like a register read, so both are
// linearizable. Like lists (txn.go), sets and counters live in the state
// machine's one map under keys of their own, so snapshots and digests cover
// them with no change to their format: a set as the length-prefixed
// concatenation of its elements (an add scans it for the element: linear in
// the set, which the workloads keep to a few hundred), a counter as its
// decimal value.
//
// A counter add carries the client's request id. The state machine keeps
// every id it applied, in the same map, and applies an id once: a client
// that did not hear whether its add took effect sends it again with the
// same id (client.CounterAdd), and whichever node leads by then, or after
// a restart from a snapshot, finds the id and answers ok without adding
// again. (Ids are kept for good: a store that runs for months would expire
// them by the age of their log index; test runs last minutes.)
//
// Bug incr-dedup-in-memory keeps the ids instead in a map in the leader's
// memory, filled when it proposes an add, and proposes adds without their
// id: a retry that reaches a new leader, or the same one after a restart,
// is applied a second time.

const (
	opSetAdd     byte = 6
	opCounterAdd byte = 7
)

const (
	setPrefix       = "\x00set\x00"
	counterPrefix   = "\x00counter\x00"
	counterIDPrefix = "\x00counter-id\x00"
)

func setKey(k string) string     { return setPrefix + k }
func isCounterID(k string) bool  { return strings.HasPrefix(k, counterIDPrefix) }
func counterKey(k string) string { return counterPrefix + k }

// EncodeSetAdd encodes "add elem to the set key" as a log entry.
func EncodeSetAdd(key, elem string) []byte {
	return appendString(appendString([]byte{opSetAdd}, key), elem)
}

// EncodeCounterAdd encodes "add delta to the counter key, once per id" as a
// log entry ("" = no id: applied every time).
func EncodeCounterAdd(key string, delta int64, id string) []byte {
	b := appendString([]byte{opCounterAdd}, key)
	b = binary.AppendVarint(b, delta)
	return appendString(b, id)
}

// CounterResult is what the state machine answers for a counter add.
type CounterResult struct {
	Value     int64 // the counter after the add
	Duplicate bool  // the id was applied before: nothing added
}

// isSetCounter reports whether data is a set or counter entry.
func isSetCounter(data []byte) bool {
	return len(data) > 0 && (data[0] == opSetAdd || data[0] == opCounterAdd)
}

// applySetCounter executes a set or counter entry at its log position
// (called by Apply with the lock held).
func (f *FSM) applySetCounter(data []byte) any {
	r := &reader{b: data[1:]}
	key := r.string()
	switch data[0] {
	case opSetAdd:
		elem := r.string()
		if err := r.end(); err != nil {
			return fmt.Errorf("decode set add: %w", err)
		}
		enc := f.data[setKey(key)]
		if !slicesContains(decodeList(enc), elem) {
			f.data[setKey(key)] = string(appendString([]byte(enc), elem))
		}
		return nil
	default: // opCounterAdd
		delta := r.varint()
		id := r.string()
		if err := r.end(); err != nil {
			return fmt.Errorf("decode counter add: %w", err)
		}
		n := f.counter(key)
		if id != "" {
			if _, dup := f.data[counterIDPrefix+id]; dup {
				return CounterResult{Value: n, Duplicate: true}
			}
			f.data[counterIDPrefix+id] = key
		}
		n += delta
		f.data[counterKey(key)] = strconv.FormatInt(n, 10)
		return CounterResult{Value: n}
	}
}

func slicesContains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// counter is the value of counter key (0 when absent; the state machine
// only ever writes integers there).
func (f *FSM) counter(key string) int64 {
	n, _ := strconv.ParseInt(f.data[counterKey(key)], 10, 64)
	return n
}

// Set reads the set key from the local state.
func (f *FSM) Set(key string) []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return decodeList(f.data[setKey(key)])
}

// Counter reads the counter key from the local state.
func (f *FSM) Counter(key string) int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.counter(key)
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// end is the reader's error, or one if bytes are left over.
func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	return r.err
}

// Forwarded set and counter requests (fwdOp.Op).
const (
	fwdSetAdd      = "set-add"
	fwdSetRead     = "set-read"
	fwdCounterAdd  = "counter-add"
	fwdCounterRead = "counter-read"
)

// fwdCounter is what a forwarded counter add adds to a forwarded request.
type fwdCounter struct {
	ID string `json:"id,omitempty"`
}

// fwdSet is what a set read adds to the leader's answer.
type fwdSet struct {
	Elements []string `json:"elements,omitempty"`
}

var (
	_ api.SetStore     = (*Store)(nil)
	_ api.CounterStore = (*Store)(nil)
)

// SetAdd adds elem to the set key through raft.
func (s *Store) SetAdd(ctx context.Context, key, elem string) error {
	op := fwdOp{Op: fwdSetAdd, Key: key, Value: elem}
	_, err := s.write(ctx, EncodeSetAdd(key, elem), s.forwarded(ctx, op))
	return err
}

// SetRead reads the set key, linearizably (as Get).
func (s *Store) SetRead(ctx context.Context, key string) ([]string, error) {
	if s.cfg.Bug == BugStaleRead {
		return s.cfg.FSM.Set(key), nil
	}
	var elems []string
	r, forwarded, err := s.linearRead(ctx, fwdOp{Op: fwdSetRead, Key: key}, func() { elems = s.cfg.FSM.Set(key) })
	if err != nil {
		return nil, err
	}
	if forwarded {
		return r.Elements, nil
	}
	return elems, nil
}

// CounterAdd adds delta to the counter key through raft, once per id.
func (s *Store) CounterAdd(ctx context.Context, key string, delta int64, id string) error {
	op := fwdOp{Op: fwdCounterAdd, Key: key, Value: strconv.FormatInt(delta, 10), fwdCounter: fwdCounter{ID: id}}
	cmd := EncodeCounterAdd(key, delta, id)
	if s.cfg.Bug == raft.BugIncrDedupInMemory && id != "" {
		if st := s.cfg.Node.Status(); st.Role == "leader" {
			if s.ctrIDs.seen(id) {
				return nil
			}
			cmd = EncodeCounterAdd(key, delta, "")
		}
	}
	res, err := s.write(ctx, cmd, s.forwarded(ctx, op))
	if r, ok := res.(CounterResult); ok && r.Duplicate {
		s.log.Info("counter add: its id was applied before, so it is not added again", "key", key, "id", id, "delta", delta)
	}
	return err
}

// CounterRead reads the counter key, linearizably (as Get).
func (s *Store) CounterRead(ctx context.Context, key string) (int64, error) {
	if s.cfg.Bug == BugStaleRead {
		return s.cfg.FSM.Counter(key), nil
	}
	var n int64
	r, forwarded, err := s.linearRead(ctx, fwdOp{Op: fwdCounterRead, Key: key}, func() { n = s.cfg.FSM.Counter(key) })
	if err != nil {
		return 0, err
	}
	if forwarded {
		v, perr := strconv.ParseInt(r.Value, 10, 64)
		if perr != nil {
			return 0, api.NotApplied("leader answered the counter %s with %q", key, r.Value)
		}
		return v, nil
	}
	return n, nil
}

// forwarded is write's forward of op to the leader for adds.
func (s *Store) forwarded(ctx context.Context, op fwdOp) func(leader string) (any, error) {
	return func(leader string) (any, error) {
		r, err := s.forwardOp(ctx, leader, op)
		if err == nil {
			err = resultError(leader, op, r)
		}
		return nil, err
	}
}

// serveSetCounter runs a forwarded set or counter request on the leader.
func (s *Store) serveSetCounter(ctx context.Context, op fwdOp) (r fwdResult, err error) {
	switch op.Op {
	case fwdSetAdd:
		err = s.SetAdd(ctx, op.Key, op.Value)
	case fwdSetRead:
		r.Elements, err = s.SetRead(ctx, op.Key)
	case fwdCounterAdd:
		d, perr := strconv.ParseInt(op.Value, 10, 64)
		if perr != nil {
			return fwdResult{Status: http.StatusBadRequest, Error: "counter add: delta " + strconv.Quote(op.Value) + " is not an integer"}, nil
		}
		err = s.CounterAdd(ctx, op.Key, d, op.ID)
	case fwdCounterRead:
		var n int64
		n, err = s.CounterRead(ctx, op.Key)
		r.Value = strconv.FormatInt(n, 10)
	}
	return r, err
}

// isSetCounterRead: the forwarded request changes nothing.
func isSetCounterRead(op string) bool { return op == fwdSetRead || op == fwdCounterRead }

// idSet is the leader's in-memory table of bug incr-dedup-in-memory.
type idSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

// seen records id and reports whether it was recorded before.
func (t *idSet) seen(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[string]bool{}
	}
	if t.ids[id] {
		return true
	}
	t.ids[id] = true
	return false
}

// counterIDs lists the request ids the state machine applied, for tests.
func (f *FSM) counterIDs() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []string
	for k := range f.data {
		if id, ok := strings.CutPrefix(k, counterIDPrefix); ok {
			out = append(out, id)
		}
	}
	return out
}
