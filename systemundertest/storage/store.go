package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gauntlet-dev/gauntlet/env"
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
	disk  env.Disk
	dir   string
	lock  io.Closer
	log   *LogStore
	hs    *StableStore
	snaps *SnapshotStore
}

// Open opens (creating if needed) the data directory dir, takes its lock,
// and loads the log, repairing a torn tail.
func Open(dir string) (*Store, error) { return OpenOn(env.OS(), dir) }

// OpenOn is Open on disk.
func OpenOn(disk env.Disk, dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("storage: open: empty data directory")
	}
	if err := disk.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create data directory: %w", err)
	}
	lock, err := disk.Lock(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("storage: lock data directory %s (is another node using it?): %w", dir, err)
	}
	s := &Store{disk: disk, dir: dir, lock: lock}
	if s.log, err = openLog(disk, dir); err != nil {
		lock.Close()
		return nil, err
	}
	s.hs = &StableStore{disk: disk, dir: dir}
	if _, err := s.hs.HardState(); err != nil {
		s.log.close()
		lock.Close()
		return nil, err
	}
	s.snaps = &SnapshotStore{disk: disk, dir: dir}
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
func writeFileAtomic(disk env.Disk, dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := disk.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
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
	if err := disk.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("storage: rename %s: %w", name, err)
	}
	return syncDir(disk, dir)
}

func syncDir(disk env.Disk, dir string) error {
	if err := disk.SyncDir(dir); err != nil {
		return fmt.Errorf("storage: fsync dir %s: %w", dir, err)
	}
	return nil
}
