package storage

import (
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

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// StableStore keeps raft's hard state in hardstate.json.
type StableStore struct {
	disk env.Disk
	dir  string
	mu   sync.Mutex
}

var _ raft.StableStore = (*StableStore)(nil)

type hardStateFileV1 struct {
	raft.HardState
	CRC uint32 `json:"crc"`
}

func hardStateCRC(hs raft.HardState) uint32 {
	b, _ := json.Marshal(hs)
	return crc32.Checksum(b, castagnoli)
}

// HardState reads the stored hard state (zero if none was ever stored).
func (s *StableStore) HardState() (raft.HardState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.dir, hardStateFile)
	b, err := s.disk.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return raft.HardState{}, nil
	}
	if err != nil {
		return raft.HardState{}, fmt.Errorf("storage: read hard state: %w", err)
	}
	var f hardStateFileV1
	if err := json.Unmarshal(b, &f); err != nil {
		return raft.HardState{}, fmt.Errorf("storage: %s is corrupt: %w", path, err)
	}
	if hardStateCRC(f.HardState) != f.CRC {
		return raft.HardState{}, fmt.Errorf("storage: %s is corrupt: checksum mismatch", path)
	}
	return f.HardState, nil
}

// SetHardState durably replaces the hard state.
func (s *StableStore) SetHardState(hs raft.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(hardStateFileV1{HardState: hs, CRC: hardStateCRC(hs)})
	if err != nil {
		return fmt.Errorf("storage: encode hard state: %w", err)
	}
	return writeFileAtomic(s.disk, s.dir, hardStateFile, b)
}
