package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// File names inside the data directory.
const (
	lockFile      = "LOCK"
	logFile       = "log.wal"
	hardStateFile = "hardstate.json"
	snapshotFile  = "snapshot.bin"
)

// Store is one open data directory.
type Store struct {
	dir   string
	lock  *os.File
	log   *LogStore
	hs    *StableStore
	snaps *SnapshotStore
}

// Open opens (creating if needed) the data directory dir, takes its lock,
// and loads the log, repairing a torn tail.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("storage: open: empty data directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create data directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: open data directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("storage: lock data directory %s (is another node using it?): %w", dir, err)
	}
	s := &Store{dir: dir, lock: lock}
	if s.log, err = openLog(dir); err != nil {
		lock.Close()
		return nil, err
	}
	s.hs = &StableStore{dir: dir}
	if _, err := s.hs.HardState(); err != nil {
		s.log.close()
		lock.Close()
		return nil, err
	}
	s.snaps = &SnapshotStore{dir: dir}
	if _, _, err := s.snaps.Latest(); err != nil {
		s.log.close()
		lock.Close()
		return nil, err
	}
	return s, nil
}

// Log is the raft log (raft.LogStore).
func (s *Store) Log() *LogStore { return s.log }

// Stable is the hard state (raft.StableStore).
func (s *Store) Stable() *StableStore { return s.hs }

// Snapshots is the latest snapshot (raft.SnapshotStore).
func (s *Store) Snapshots() *SnapshotStore { return s.snaps }

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// Close releases the files and the directory lock.
func (s *Store) Close() error {
	err := s.log.close()
	if e := s.lock.Close(); err == nil && e != nil {
		err = fmt.Errorf("storage: close lock: %w", e)
	}
	return err
}

// writeFileAtomic replaces dir/name with data: write a temp file, fsync,
// rename over the old one, fsync the directory so the rename survives.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("storage: write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storage: fsync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("storage: rename %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storage: open dir for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("storage: fsync dir %s: %w", dir, err)
	}
	return nil
}
