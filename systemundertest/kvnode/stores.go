package kvnode

import (
	"hash/fnv"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
	"github.com/gauntlet-dev/gauntlet/systemundertest/storage"
)

// stores are raft's durable stores in the data directory.
type stores struct {
	log       raft.LogStore
	stable    raft.StableStore
	snapshots raft.SnapshotStore
	close     func() error
}

func (s *stores) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// openStores opens raft's stores in dir, repairing a torn log tail; damage
// anywhere else is an error (storage.CorruptError).
func openStores(e env.Env, dir string) (*stores, error) {
	st, err := storage.OpenOn(e, dir)
	if err != nil {
		return nil, err
	}
	return &stores{log: st.Log(), stable: st.Stable(), snapshots: st.Snapshots(), close: st.Close}, nil
}

// seedFor randomizes election timeouts per node and per start, so nodes
// restarted together do not time out in lockstep.
func seedFor(e env.Env, id string) int64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int64(e.Seed()) ^ int64(h.Sum64())
}
