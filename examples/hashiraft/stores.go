package hashiraft

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/gauntlet-dev/gauntlet/env"
)

// logStore is raft's LogStore on an env.Disk: every change is a record
// appended to one file and fsynced before the call returns; the file is
// replayed on open, a torn last record cut off. (raft-boltdb would be the
// usual choice, but bbolt maps its file into memory, out of env's reach.)
type logStore struct {
	mu   sync.Mutex
	f    env.File
	size int64
	logs map[uint64]*raft.Log
	lo   uint64
	hi   uint64
}

// record is one change of the log file.
type record struct {
	Log      *raft.Log `json:"log,omitempty"`
	Del      bool      `json:"del,omitempty"`
	Min, Max uint64    `json:",omitempty"`
}

func openLogStore(d env.Disk, dir string) (*logStore, error) {
	path := filepath.Join(dir, "raft.log")
	f, err := d.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	s := &logStore{f: f, logs: map[uint64]*raft.Log{}}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	off := 0
	for off+8 <= len(data) {
		n := int(binary.LittleEndian.Uint32(data[off:]))
		if off+8+n > len(data) || crc32.ChecksumIEEE(data[off+8:off+8+n]) != binary.LittleEndian.Uint32(data[off+4:]) {
			break // a torn tail: the write that was cut was never acknowledged
		}
		var r record
		if err := json.Unmarshal(data[off+8:off+8+n], &r); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: record at %d: %w", path, off, err)
		}
		s.apply(r)
		off += 8 + n
	}
	if off < len(data) {
		if err := f.Truncate(int64(off)); err != nil {
			f.Close()
			return nil, err
		}
	}
	s.size = int64(off)
	return s, nil
}

// apply keeps the log in memory; raft's logs are contiguous, so the bounds
// follow from what a change adds or cuts.
func (s *logStore) apply(r record) {
	if !r.Del {
		i := r.Log.Index
		s.logs[i] = r.Log
		if s.lo == 0 || i < s.lo {
			s.lo = i
		}
		s.hi = max(s.hi, i)
		return
	}
	for i := max(r.Min, s.lo); i <= r.Max && i <= s.hi; i++ {
		delete(s.logs, i)
	}
	switch {
	case len(s.logs) == 0:
		s.lo, s.hi = 0, 0
	case s.lo >= r.Min && s.lo <= r.Max:
		s.lo = r.Max + 1
	case s.hi >= r.Min && s.hi <= r.Max:
		s.hi = r.Min - 1
	}
}

func (s *logStore) write(rs ...record) error {
	var buf []byte
	for _, r := range rs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(b)))
		buf = binary.LittleEndian.AppendUint32(buf, crc32.ChecksumIEEE(b))
		buf = append(buf, b...)
	}
	if _, err := s.f.WriteAt(buf, s.size); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.size += int64(len(buf))
	for _, r := range rs {
		s.apply(r)
	}
	return nil
}

func (s *logStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lo, nil
}

func (s *logStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hi, nil
}

func (s *logStore) GetLog(index uint64, log *raft.Log) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.logs[index]
	if !ok {
		return raft.ErrLogNotFound
	}
	*log = *l
	return nil
}

func (s *logStore) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := make([]record, len(logs))
	for i, l := range logs {
		c := *l
		rs[i] = record{Log: &c}
	}
	return s.write(rs...)
}

func (s *logStore) DeleteRange(lo, hi uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.write(record{Del: true, Min: lo, Max: hi})
}

func (s *logStore) Close() error { return s.f.Close() }

// stableStore is raft's StableStore: a small JSON map replaced atomically
// (temporary file, fsync, rename, directory sync) on every change.
type stableStore struct {
	mu   sync.Mutex
	d    env.Disk
	dir  string
	vals map[string][]byte
}

func openStableStore(d env.Disk, dir string) (*stableStore, error) {
	s := &stableStore{d: d, dir: dir, vals: map[string][]byte{}}
	b, err := d.ReadFile(filepath.Join(dir, "stable.json"))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s.vals); err != nil {
		return nil, fmt.Errorf("stable.json: %w", err)
	}
	return s, nil
}

func (s *stableStore) Set(key, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals[string(key)] = append([]byte(nil), val...)
	b, err := json.Marshal(s.vals)
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, "stable.json.tmp")
	f, err := s.d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.d.Rename(tmp, filepath.Join(s.dir, "stable.json"))
	}
	if err == nil {
		err = s.d.SyncDir(s.dir)
	}
	return err
}

func (s *stableStore) Get(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vals[string(key)]
	if !ok {
		return nil, errors.New("not found") // what raft's own stores say
	}
	return append([]byte(nil), v...), nil
}

func (s *stableStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

func (s *stableStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil || len(v) != 8 {
		return 0, nil
	}
	return binary.BigEndian.Uint64(v), nil
}
