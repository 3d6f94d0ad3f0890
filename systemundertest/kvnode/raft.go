package kvnode

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/kv"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
	"github.com/gauntlet-dev/gauntlet/systemundertest/transport"
)

// raftBugs is raft mode's catalog.
func raftBugs() []bugInfo {
	var out []bugInfo
	for _, b := range raft.Bugs() {
		out = append(out, bugInfo{Name: b.Name, Description: b.Description})
	}
	return out
}

// raftStore is the kv store plus what must close after it.
type raftStore struct {
	*kv.Store
	transport *transport.HTTP
	stores    *stores
}

func (s *raftStore) Close() error {
	err := s.Store.Close() // stops raft first: it must not write after the stores close
	_ = s.transport.Close()
	if cerr := s.stores.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close storage: %w", cerr)
	}
	return err
}

// openRaft opens the durable stores in c.DataDir, starts the raft node and
// returns the store and the handler for raft's peer messages.
func openRaft(e env.Env, c nodeConfig, t raftTuning) (api.Store, http.Handler, error) {
	st, err := openStores(e, c.DataDir)
	if err != nil {
		return nil, nil, err
	}
	ids := make([]string, 0, len(c.Peers))
	for id := range c.Peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	log := c.Logger.With("mode", "raft")
	fsm := kv.NewFSM()
	tr := transport.New(transport.Config{ID: c.ID, Peers: c.Peers, Pipeline: t.Pipeline, Logger: log.With("component", "transport"), Net: e, Clock: e})
	node, err := raft.NewNode(raft.Config{
		ID: c.ID, Peers: ids, Transport: tr,
		Log: st.log, Stable: st.stable, Snapshots: st.snapshots,
		FSM: fsm, Clock: c.Clock,
		ElectionTimeout: t.ElectionTimeout, HeartbeatInterval: t.HeartbeatInterval,
		SnapshotThreshold: t.SnapshotThreshold, MaxBatch: t.MaxBatch,
		Seed: seedFor(e, c.ID), Bug: c.Bug, Logger: log.With("component", "raft"),
	})
	if err != nil {
		_ = tr.Close()
		_ = st.Close()
		return nil, nil, fmt.Errorf("start raft: %w", err)
	}
	s := kv.NewStore(kv.Config{ID: c.ID, Peers: c.Peers, Node: node, FSM: fsm, Bug: c.Bug, Clock: c.Clock, Logger: log, Env: e})
	internal := http.NewServeMux()
	internal.Handle(transport.Path, transport.Handler(node.Deliver))
	internal.Handle(kv.BatchPath, s.Handler())
	return &raftStore{Store: s, transport: tr, stores: st}, internal, nil
}
