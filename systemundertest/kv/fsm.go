package kv

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Command opcodes: the first byte of an encoded command.
const (
	opPut byte = 1
	opCAS byte = 2
)

// EncodePut encodes "set key to value" as a log entry.
func EncodePut(key, value string) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(key)+len(value))
	b = append(b, opPut)
	b = appendString(b, key)
	return appendString(b, value)
}

// EncodeCAS encodes "set key to to if it holds from" as a log entry.
func EncodeCAS(key, from, to string) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(key)+len(from)+len(to))
	b = append(b, opCAS)
	b = appendString(b, key)
	b = appendString(b, from)
	return appendString(b, to)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes length-prefixed strings; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("truncated string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// command is a decoded log entry.
type command struct {
	op             byte
	key, value, to string // value is the put value or the cas "from"
}

func decodeCommand(data []byte) (command, error) {
	if len(data) == 0 {
		return command{}, errors.New("empty command")
	}
	r := &reader{b: data[1:]}
	c := command{op: data[0]}
	switch c.op {
	case opPut:
		c.key, c.value = r.string(), r.string()
	case opCAS:
		c.key, c.value, c.to = r.string(), r.string(), r.string()
	default:
		return command{}, fmt.Errorf("unknown opcode %d", c.op)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return command{}, fmt.Errorf("decode command: %w", r.err)
	}
	return c, nil
}

// FSM is the key-value state machine replicated by raft (it implements
// raft.FSM). It is safe for concurrent use: raft applies while the HTTP
// layer reads.
type FSM struct {
	mu   sync.RWMutex
	data map[string]string
	// index is the log index of the last command applied (or restored).
	// It is part of the digest, and snapshots carry it, so a node restored
	// from a snapshot and one that applied the log agree.
	index uint64
	// lockHook hears grants and releases (lock.go).
	lockHook LockHook
}

// NewFSM returns an empty state machine.
func NewFSM() *FSM { return &FSM{data: map[string]string{}} }

// Apply executes one committed command. Results: nil for a put or a set
// add, api.CASResult for a cas, TxnResult for a transaction, CounterResult
// for a counter add, an error for an
// undecodable entry (which changes nothing, identically on every replica).
func (f *FSM) Apply(index uint64, data []byte) any {
	if len(data) > 0 && data[0] == opTxn {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.index = index
		return f.applyTxn(data) // txn.go
	}
	if len(data) > 0 && (data[0] == opLockAcquire || data[0] == opLockRelease) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.index = index
		return f.applyLock(index, data) // lock.go
	}
	if isSetCounter(data) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.index = index
		return f.applySetCounter(data) // setctr.go
	}
	c, err := decodeCommand(data)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index = index
	if err != nil {
		return fmt.Errorf("entry %d: %w", index, err)
	}
	switch c.op {
	case opPut:
		f.data[c.key] = c.value
		return nil
	default: // opCAS
		cur, found := f.data[c.key]
		if !found || cur != c.value {
			return api.CASResult{OK: false, Current: cur, Found: found}
		}
		f.data[c.key] = c.to
		return api.CASResult{OK: true}
	}
}

// Get reads key from the local state.
func (f *FSM) Get(key string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, ok := f.data[key]
	return v, ok
}

// Index is the log index of the last applied command.
func (f *FSM) Index() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index
}

const snapshotVersion = 1

// Snapshot serializes the state: version, index, count, then the pairs in
// key order (deterministic, so equal states give equal bytes).
func (f *FSM) Snapshot() ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	keys := f.sortedKeys()
	size := 3 * binary.MaxVarintLen64
	for _, k := range keys {
		size += 2*binary.MaxVarintLen64 + len(k) + len(f.data[k])
	}
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, snapshotVersion)
	b = binary.AppendUvarint(b, f.index)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, f.data[k])
	}
	return b, nil
}

// Restore replaces the state with a snapshot's.
func (f *FSM) Restore(data []byte) error {
	r := &reader{b: data}
	if v := r.uvarint(); r.err == nil && v != snapshotVersion {
		return fmt.Errorf("restore snapshot: unknown version %d", v)
	}
	index := r.uvarint()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // each pair takes at least 2 bytes
		r.err = errors.New("implausible key count")
	}
	m := make(map[string]string, int(min(n, 1<<20)))
	for i := uint64(0); i < n && r.err == nil; i++ {
		k := r.string()
		m[k] = r.string()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("restore snapshot: %w", r.err)
	}
	f.mu.Lock()
	f.data, f.index = m, index
	f.mu.Unlock()
	return nil
}

func (f *FSM) sortedKeys() []string {
	keys := make([]string, 0, len(f.data))
	for k := range f.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Digest hashes the sorted key/value pairs and the applied index: equal
// digests mean equal states at the same point of the log. withValues also
// returns a short hash per key.
func (f *FSM) Digest(withValues bool) (digest string, index uint64, keys int, values map[string]string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	h := sha256.New()
	var buf []byte
	buf = binary.AppendUvarint(buf, f.index)
	h.Write(buf)
	if withValues {
		values = make(map[string]string, len(f.data))
	}
	for _, k := range f.sortedKeys() {
		v := f.data[k]
		buf = appendString(appendString(buf[:0], k), v)
		h.Write(buf)
		if withValues && !isCounterID(k) { // bookkeeping, not data (setctr.go)
			values[k] = ValueHash(v)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), f.index, len(f.data), values
}

// ValueHash is the per-key hash reported by Digest(withValues).
func ValueHash(v string) string {
	s := sha256.Sum256([]byte(v))
	return hex.EncodeToString(s[:8])
}
