package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/gauntlet-dev/gauntlet/env"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The replica's durable state is an append-only file of records:
//
//	uint32 LE payload length | uint32 LE CRC-32C of payload | payload
//	payload = uvarint counter | uvarint inc | str node | str key | str value
//	str     = uvarint length | bytes
//
// Replay keeps, per key, the record with the highest version, so records
// may land in any order. A crash can leave a torn last record (a short
// header, a length past the end of the file, a bad CRC on the last record,
// or zeros the filesystem allocated but never wrote): it was never
// acknowledged, so replay cuts it off. A bad record with valid-looking data
// after it is corruption of acknowledged data, and the replica refuses to
// start rather than silently forget writes it acknowledged.

const (
	headerSize = 8
	maxRecord  = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one stored write.
type entry struct {
	Key, Value string
	Ver        Version
}

// ErrCorrupt reports a log that cannot be replayed without losing
// acknowledged writes.
var ErrCorrupt = errors.New("quorum: log corrupt")

func encodeRecord(dst []byte, e entry) []byte {
	var p []byte
	p = binary.AppendUvarint(p, e.Ver.Counter)
	p = binary.AppendUvarint(p, e.Ver.Inc)
	for _, s := range []string{e.Ver.Node, e.Key, e.Value} {
		p = binary.AppendUvarint(p, uint64(len(s)))
		p = append(p, s...)
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(p, castagnoli))
	return append(dst, p...)
}

func decodePayload(p []byte) (entry, error) {
	var e entry
	for _, u := range []*uint64{&e.Ver.Counter, &e.Ver.Inc} {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return e, errors.New("bad version")
		}
		*u, p = v, p[n:]
	}
	var strs [3]string
	for i := range strs {
		l, n := binary.Uvarint(p)
		if n <= 0 || uint64(len(p)-n) < l {
			return e, errors.New("bad string length")
		}
		strs[i], p = string(p[n:n+int(l)]), p[n+int(l):]
	}
	if len(p) != 0 {
		return e, errors.New("trailing bytes")
	}
	e.Ver.Node, e.Key, e.Value = strs[0], strs[1], strs[2]
	return e, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// nextRecord returns the first offset in b where a whole, valid record
// starts, or -1. A false match needs a CRC-32C collision.
func nextRecord(b []byte) int {
	for i := 0; i+headerSize < len(b); i++ {
		l := int(binary.LittleEndian.Uint32(b[i:]))
		if l == 0 || i+headerSize+l > len(b) {
			continue
		}
		p := b[i+headerSize : i+headerSize+l]
		if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(b[i+4:]) {
			continue
		}
		if _, err := decodePayload(p); err == nil {
			return i
		}
	}
	return -1
}

// replay parses data. It returns the entries, the length of the valid prefix
// (shorter than data when the tail is torn), or ErrCorrupt.
func replay(data []byte) (entries []entry, valid int, err error) {
	off := 0
	for off < len(data) {
		rest := data[off:]
		if len(rest) < headerSize {
			return entries, off, nil // torn: short header
		}
		l := int(binary.LittleEndian.Uint32(rest))
		sum := binary.LittleEndian.Uint32(rest[4:])
		if l == 0 || l > maxRecord || headerSize+l > len(rest) {
			if allZero(rest) {
				return entries, off, nil // torn: allocated but never written
			}
			if headerSize+l > len(rest) && l <= maxRecord {
				// A record cut short by the crash — unless its length field
				// is damaged and whole records follow it.
				if at := nextRecord(rest[1:]); at >= 0 {
					return nil, 0, fmt.Errorf("%w: record %d at offset %d claims %d bytes, past the end of the file, but a valid record follows at offset %d",
						ErrCorrupt, len(entries), off, l, off+1+at)
				}
				return entries, off, nil
			}
			return nil, 0, fmt.Errorf("%w: record %d at offset %d has invalid length %d and %d bytes follow",
				ErrCorrupt, len(entries), off, l, len(rest))
		}
		p := rest[headerSize : headerSize+l]
		if crc32.Checksum(p, castagnoli) != sum {
			after := rest[headerSize+l:]
			if allZero(after) {
				return entries, off, nil // torn: the last record was half written
			}
			return nil, 0, fmt.Errorf("%w: record %d at offset %d fails its checksum and %d bytes of records follow it",
				ErrCorrupt, len(entries), off, len(after))
		}
		e, derr := decodePayload(p)
		if derr != nil {
			return nil, 0, fmt.Errorf("%w: record %d at offset %d: %v", ErrCorrupt, len(entries), off, derr)
		}
		entries = append(entries, e)
		off += headerSize + l
	}
	return entries, off, nil
}

// wal appends records with group commit: one writer goroutine takes every
// record queued while the previous write+fsync ran and makes them durable
// with one write and one fsync, so fsync cost is shared under load.
type wal struct {
	disk     env.Disk
	clock    env.Clock
	path     string
	f        env.File
	deferred bool          // ack-before-fsync: commit returns before the data is even written
	interval time.Duration // flush period when deferred

	mu      sync.Mutex
	buf     []byte
	waiters []chan error
	broken  error
	closed  bool
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

// openWAL replays the log at path (creating it), repairs a torn tail and
// compacts the file when it holds mostly superseded records.
func openWAL(e env.Env, path string, deferred bool, interval time.Duration, warn func(msg string, args ...any)) (*wal, []entry, error) {
	data, err := e.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("quorum: read log: %w", err)
	}
	entries, valid, err := replay(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	live := latest(entries)
	if valid < len(data) {
		warn("truncating torn tail of the log", "path", path, "valid_bytes", valid, "dropped_bytes", len(data)-valid)
	}
	if valid < len(data) || len(entries) > 4*len(live)+1024 {
		// Rewrite only the live records: this both cuts a torn tail and bounds
		// the log's growth across restarts.
		if err := rewrite(e, path, live); err != nil {
			return nil, nil, err
		}
	}
	f, err := e.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("quorum: open log: %w", err)
	}
	if err := syncDir(e, filepath.Dir(path)); err != nil {
		f.Close()
		return nil, nil, err
	}
	w := &wal{disk: e, clock: e, path: path, f: f, deferred: deferred, interval: interval,
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	go w.loop()
	return w, live, nil
}

// latest keeps the highest version of each key; the records of a set or a
// counter state merge, in file order (crdt.go).
func latest(entries []entry) []entry {
	idx := make(map[string]int)
	var out []entry
	for _, e := range entries {
		r := replaces(e)
		if r {
			e.Ver = Version{}
		}
		if i, ok := idx[e.Key]; ok {
			switch {
			case r:
				out[i] = e
			case merges(e) && merges(out[i]):
				out[i].Value = mergeValues(e.Key, out[i].Value, e.Value)
			case out[i].Ver.Less(e.Ver):
				out[i] = e
			}
			continue
		}
		idx[e.Key] = len(out)
		out = append(out, e)
	}
	return out
}

// rewrite atomically replaces path with the given records.
func rewrite(disk env.Disk, path string, entries []entry) error {
	tmp := path + ".tmp"
	var buf []byte
	for _, e := range entries {
		buf = encodeRecord(buf, e)
	}
	f, err := disk.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("quorum: compact log: %w", err)
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("quorum: compact log: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("quorum: compact log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("quorum: compact log: %w", err)
	}
	if err := disk.Rename(tmp, path); err != nil {
		return fmt.Errorf("quorum: compact log: %w", err)
	}
	return syncDir(disk, filepath.Dir(path))
}

func syncDir(disk env.Disk, dir string) error {
	if err := disk.SyncDir(dir); err != nil {
		return fmt.Errorf("quorum: sync dir: %w", err)
	}
	return nil
}

var errClosed = errors.New("quorum: log closed")

// commit makes e durable. It returns once e is fsynced — except under
// ack-before-fsync, where it returns as soon as e sits in the buffer.
func (w *wal) commit(e entry) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed
	}
	if w.broken != nil {
		err := w.broken
		w.mu.Unlock()
		return err
	}
	w.buf = encodeRecord(w.buf, e)
	if w.deferred {
		w.mu.Unlock()
		return nil
	}
	ch := make(chan error, 1)
	w.waiters = append(w.waiters, ch)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return <-ch
}

func (w *wal) loop() {
	defer close(w.stopped)
	var tick <-chan time.Time
	if w.deferred {
		t := w.clock.NewTicker(w.interval)
		defer t.Stop()
		tick = t.C()
	}
	var last time.Time
	for {
		select {
		case <-w.kick:
		case <-tick:
		case <-w.done:
			return
		}
		if !w.deferred && env.Since(w.clock, last) < busyWindow {
			// Under load, linger briefly so that more records share the
			// fsync: on the virtualized disks we run on an fsync costs CPU,
			// not only wait, and batching doubled write throughput. An idle
			// replica flushes at once.
			<-env.After(w.clock, linger)
		}
		w.flush()
		last = w.clock.Now()
	}
}

const (
	busyWindow = 2 * time.Millisecond
	linger     = 300 * time.Microsecond
)

// flush writes and fsyncs what is buffered and answers its waiters.
func (w *wal) flush() {
	w.mu.Lock()
	buf, waiters := w.buf, w.waiters
	w.buf, w.waiters = nil, nil
	w.mu.Unlock()
	if len(buf) == 0 {
		return
	}
	_, err := w.f.Write(buf)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		// The file's tail is now unknown: refuse further writes rather than
		// acknowledge records that might sit behind a hole.
		err = fmt.Errorf("quorum: append to log: %w", err)
		w.mu.Lock()
		w.broken = err
		w.mu.Unlock()
	}
	for _, ch := range waiters {
		ch <- err
	}
}

// close flushes what is buffered (a graceful stop) and closes the file.
func (w *wal) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.done)
	<-w.stopped
	w.flush()
	return w.f.Close()
}

// crash stops without flushing the user-space buffer, as SIGKILL would.
func (w *wal) crash() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	waiters := w.waiters
	w.buf, w.waiters = nil, nil
	w.mu.Unlock()
	close(w.done)
	<-w.stopped
	for _, ch := range waiters {
		ch <- errClosed
	}
	w.f.Close()
}
