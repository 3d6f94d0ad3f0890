package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"sync"

	"github.com/gauntlet-dev/gauntlet/env"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// SnapshotStore keeps the latest snapshot in snapshot.bin: a CRC32-C of the
// rest, then the JSON-encoded snapshot.
type SnapshotStore struct {
	disk env.Disk
	dir  string

	mu     sync.Mutex
	loaded bool
	latest *raft.Snapshot // cached; nil = none
}

var _ raft.SnapshotStore = (*SnapshotStore)(nil)

// Save durably replaces the latest snapshot.
func (s *SnapshotStore) Save(snap raft.Snapshot) error {
	body, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("storage: encode snapshot: %w", err)
	}
	buf := make([]byte, 4, 4+len(body))
	binary.LittleEndian.PutUint32(buf, crc32.Checksum(body, castagnoli))
	buf = append(buf, body...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writeFileAtomic(s.disk, s.dir, snapshotFile, buf); err != nil {
		return err
	}
	s.latest, s.loaded = &snap, true
	return nil
}

// Latest returns the latest snapshot; ok=false if none was saved.
func (s *SnapshotStore) Latest() (raft.Snapshot, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		snap, err := readSnapshot(s.disk, filepath.Join(s.dir, snapshotFile))
		if err != nil {
			return raft.Snapshot{}, false, err
		}
		s.latest, s.loaded = snap, true
	}
	if s.latest == nil {
		return raft.Snapshot{}, false, nil
	}
	return *s.latest, true, nil
}

func readSnapshot(disk env.Disk, path string) (*raft.Snapshot, error) {
	b, err := disk.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: read snapshot: %w", err)
	}
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != crc32.Checksum(b[4:], castagnoli) {
		return nil, fmt.Errorf("storage: %s is corrupt: checksum mismatch", path)
	}
	var snap raft.Snapshot
	if err := json.Unmarshal(b[4:], &snap); err != nil {
		return nil, fmt.Errorf("storage: %s is corrupt: %w", path, err)
	}
	return &snap, nil
}
