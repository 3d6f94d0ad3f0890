package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// Record framing: payload length, CRC32-C of those 4 length bytes, CRC32-C
// of the payload, payload. The length's own checksum lets Open tell a
// damaged header in the middle of the file from a tail cut short.
const (
	headerSize = 12
	maxRecord  = 256 << 20

	kindEntry  = 1 // index, term, type, data
	kindPrefix = 2 // entries <= upto are gone (compaction)
)

// Rewrite the file without the compacted prefix once that many dead bytes
// accumulated and they outweigh the live ones.
const rewriteDeadBytes = 4 << 20

// LogStore is the raft log in one append-only file.
type LogStore struct {
	mu   sync.Mutex
	disk env.Disk
	dir  string
	path string
	f    env.File
	size int64

	first  uint64  // index of the first live entry; 0 when empty
	starts []int64 // record start offset of each live entry
	lens   []int32 // payload length of each live entry
	prefix uint64  // highest TruncatePrefix mark
	dead   int64   // bytes before the first live entry's record
}

var _ raft.LogStore = (*LogStore)(nil)

// CorruptError reports damage inside the log that is not a torn tail.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("storage: %s is corrupt at offset %d: %s (refusing to truncate: this is not a torn tail)",
		e.File, e.Offset, e.Reason)
}

func openLog(disk env.Disk, dir string) (*LogStore, error) {
	path := filepath.Join(dir, logFile)
	f, err := disk.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: open log: %w", err)
	}
	l := &LogStore{disk: disk, dir: dir, path: path, f: f}
	if err := l.load(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

func (l *LogStore) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("storage: close log: %w", err)
	}
	return nil
}

// load scans the whole file, rebuilding the index and repairing a torn tail.
func (l *LogStore) load() error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return fmt.Errorf("storage: read log: %w", err)
	}
	l.first, l.starts, l.lens, l.prefix, l.dead = 0, nil, nil, 0, 0
	var off int64
	for off < int64(len(data)) {
		rest := data[off:]
		payload, bad := parseRecord(rest)
		if bad != "" {
			if tornTail(rest) {
				// A crash cut the last write short: drop it.
				if err := l.f.Truncate(off); err != nil {
					return fmt.Errorf("storage: repair torn log tail at offset %d: %w", off, err)
				}
				if err := l.f.Sync(); err != nil {
					return fmt.Errorf("storage: fsync log after repair: %w", err)
				}
				break
			}
			return &CorruptError{File: l.path, Offset: off, Reason: bad}
		}
		if err := l.replay(off, payload); err != nil {
			return err
		}
		off += headerSize + int64(len(payload))
	}
	l.size = off
	l.recountDead()
	return nil
}

// parseRecord returns the payload of the record at the start of b, or why
// it is not a whole valid record.
func parseRecord(b []byte) (payload []byte, bad string) {
	if len(b) < headerSize {
		return nil, "short header"
	}
	n := binary.LittleEndian.Uint32(b)
	if crc32.Checksum(b[:4], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return nil, "header checksum mismatch"
	}
	if n == 0 || n > maxRecord {
		return nil, fmt.Sprintf("bad record length %d", n)
	}
	if int64(len(b)) < headerSize+int64(n) {
		return nil, "record extends past end of file"
	}
	p := b[headerSize : headerSize+int(n)]
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return nil, "payload checksum mismatch"
	}
	return p, ""
}

// tornTail tells whether the bad bytes b (from a bad record to the end of
// the file) are what a crash mid-append leaves: a cut-short header, a valid
// header whose record runs past the end, a last record with a bad payload,
// or zeros.
func tornTail(b []byte) bool {
	if len(bytes.Trim(b, "\x00")) == 0 || len(b) < headerSize {
		return true
	}
	if crc32.Checksum(b[:4], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
		return false // a damaged header with data after it
	}
	n := int64(binary.LittleEndian.Uint32(b))
	return headerSize+n >= int64(len(b)) // runs past the end, or is the very last record
}

func (l *LogStore) replay(off int64, p []byte) error {
	switch p[0] {
	case kindEntry:
		if len(p) < 18 {
			return &CorruptError{File: l.path, Offset: off, Reason: "short entry record"}
		}
		idx := binary.LittleEndian.Uint64(p[1:])
		if n := len(l.starts); n > 0 && idx != l.first+uint64(n) {
			return &CorruptError{File: l.path, Offset: off,
				Reason: fmt.Sprintf("entry %d does not follow entry %d", idx, l.first+uint64(n)-1)}
		}
		if len(l.starts) == 0 {
			l.first = idx
		}
		l.starts = append(l.starts, off)
		l.lens = append(l.lens, int32(len(p)))
	case kindPrefix:
		if len(p) != 9 {
			return &CorruptError{File: l.path, Offset: off, Reason: "bad prefix record"}
		}
		l.dropPrefix(binary.LittleEndian.Uint64(p[1:]))
	default:
		return &CorruptError{File: l.path, Offset: off, Reason: fmt.Sprintf("unknown record kind %d", p[0])}
	}
	return nil
}

func (l *LogStore) dropPrefix(upto uint64) {
	l.prefix = max(l.prefix, upto)
	if len(l.starts) == 0 || upto < l.first {
		return
	}
	k := min(uint64(len(l.starts)), upto-l.first+1)
	l.starts, l.lens = l.starts[k:], l.lens[k:]
	if len(l.starts) == 0 {
		l.first = 0
		l.starts, l.lens = nil, nil
	} else {
		l.first += k
	}
}

func (l *LogStore) recountDead() {
	if len(l.starts) == 0 {
		l.dead = l.size
	} else {
		l.dead = l.starts[0]
	}
}

func (l *LogStore) last() uint64 {
	if len(l.starts) == 0 {
		return 0
	}
	return l.first + uint64(len(l.starts)) - 1
}

// FirstIndex is the first entry held (0 when empty).
func (l *LogStore) FirstIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first, nil
}

// LastIndex is the last entry held (0 when empty).
func (l *LogStore) LastIndex() (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last(), nil
}

// Entries returns entries [lo, hi).
func (l *LogStore) Entries(lo, hi uint64) ([]raft.Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lo >= hi {
		return nil, nil
	}
	if l.f == nil {
		return nil, errors.New("storage: log is closed")
	}
	if len(l.starts) == 0 || lo < l.first || hi > l.last()+1 {
		return nil, fmt.Errorf("storage: entries [%d, %d) out of range [%d, %d]", lo, hi, l.first, l.last())
	}
	i, j := lo-l.first, hi-l.first-1
	from := l.starts[i]
	to := l.starts[j] + headerSize + int64(l.lens[j])
	buf := make([]byte, to-from)
	if _, err := l.f.ReadAt(buf, from); err != nil {
		return nil, fmt.Errorf("storage: read entries [%d, %d): %w", lo, hi, err)
	}
	out := make([]raft.Entry, 0, hi-lo)
	for k := i; k <= j; k++ {
		p := buf[l.starts[k]-from+headerSize:][:l.lens[k]]
		data := append([]byte(nil), p[18:]...)
		if len(data) == 0 {
			data = nil
		}
		out = append(out, raft.Entry{
			Index: binary.LittleEndian.Uint64(p[1:]),
			Term:  binary.LittleEndian.Uint64(p[9:]),
			Type:  raft.EntryType(p[17]),
			Data:  data,
		})
	}
	return out, nil
}

func appendRecord(buf, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(h[:4], castagnoli))
	binary.LittleEndian.PutUint32(h[8:], crc32.Checksum(payload, castagnoli))
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

func entryPayload(e raft.Entry) []byte {
	p := make([]byte, 18, 18+len(e.Data))
	p[0] = kindEntry
	binary.LittleEndian.PutUint64(p[1:], e.Index)
	binary.LittleEndian.PutUint64(p[9:], e.Term)
	p[17] = byte(e.Type)
	return append(p, e.Data...)
}

func prefixPayload(upto uint64) []byte {
	p := make([]byte, 9)
	p[0] = kindPrefix
	binary.LittleEndian.PutUint64(p[1:], upto)
	return p
}

// Append writes entries after the last one with one write and one fsync.
// An empty log accepts any first index (after a snapshot install or a
// compaction past the end).
func (l *LogStore) Append(entries []raft.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("storage: log is closed")
	}
	next := entries[0].Index
	if len(l.starts) > 0 {
		next = l.last() + 1
	}
	var buf []byte
	starts := make([]int64, 0, len(entries))
	lens := make([]int32, 0, len(entries))
	for _, e := range entries {
		if e.Index != next {
			return fmt.Errorf("storage: append entry %d: want index %d", e.Index, next)
		}
		next++
		p := entryPayload(e)
		starts = append(starts, l.size+int64(len(buf)))
		lens = append(lens, int32(len(p)))
		buf = appendRecord(buf, p)
	}
	if err := l.write(buf); err != nil {
		return fmt.Errorf("storage: append entries %d..%d: %w", entries[0].Index, next-1, err)
	}
	if len(l.starts) == 0 {
		l.first = entries[0].Index
	}
	l.starts = append(l.starts, starts...)
	l.lens = append(l.lens, lens...)
	return nil
}

// write appends buf at the end of the file and fsyncs; on failure the file
// is cut back so that no half-written record stays behind.
func (l *LogStore) write(buf []byte) error {
	if _, err := l.f.WriteAt(buf, l.size); err != nil {
		_ = l.f.Truncate(l.size)
		return fmt.Errorf("write: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		_ = l.f.Truncate(l.size)
		return fmt.Errorf("fsync: %w", err)
	}
	l.size += int64(len(buf))
	return nil
}

// TruncateSuffix deletes entries with index >= from: the file is cut at
// that entry's record, and the compaction mark is written again in case the
// cut removed it.
func (l *LogStore) TruncateSuffix(from uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("storage: log is closed")
	}
	if len(l.starts) == 0 || from > l.last() {
		return nil
	}
	from = max(from, l.first)
	k := from - l.first
	cut := l.starts[k]
	if err := l.f.Truncate(cut); err != nil {
		return fmt.Errorf("storage: truncate log from %d: %w", from, err)
	}
	l.size = cut
	l.starts, l.lens = l.starts[:k], l.lens[:k]
	if len(l.starts) == 0 {
		l.first = 0
	}
	var buf []byte
	if l.prefix > 0 {
		buf = appendRecord(nil, prefixPayload(l.prefix))
	}
	if err := l.write(buf); err != nil {
		return fmt.Errorf("storage: truncate log from %d: %w", from, err)
	}
	l.recountDead()
	return nil
}

// TruncatePrefix deletes entries with index <= upto. It appends a mark and,
// once the dead prefix is large, rewrites the file without it.
func (l *LogStore) TruncatePrefix(upto uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("storage: log is closed")
	}
	if upto <= l.prefix && (len(l.starts) == 0 || upto < l.first) {
		return nil
	}
	l.dropPrefix(upto)
	if err := l.write(appendRecord(nil, prefixPayload(l.prefix))); err != nil {
		return fmt.Errorf("storage: truncate log up to %d: %w", upto, err)
	}
	l.recountDead()
	if l.dead > rewriteDeadBytes && l.dead > l.size-l.dead {
		if err := l.rewrite(); err != nil {
			return fmt.Errorf("storage: compact log after truncating up to %d: %w", upto, err)
		}
	}
	return nil
}

// rewrite replaces the file with one holding only the live entries.
func (l *LogStore) rewrite() error {
	var live []byte
	if len(l.starts) > 0 {
		live = make([]byte, l.size-l.starts[0])
		if _, err := l.f.ReadAt(live, l.starts[0]); err != nil {
			return fmt.Errorf("read live entries: %w", err)
		}
	}
	buf := appendRecord(nil, prefixPayload(l.prefix))
	shift := int64(len(buf)) - l.dead
	buf = append(buf, live...)
	tmp := l.path + ".tmp"
	f, err := l.disk.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := l.disk.Rename(tmp, l.path); err != nil {
		f.Close()
		return err
	}
	if err := syncDir(l.disk, l.dir); err != nil {
		f.Close()
		return err
	}
	l.f.Close()
	l.f = f
	l.size = int64(len(buf))
	for i := range l.starts {
		l.starts[i] += shift
	}
	l.recountDead()
	return nil
}
