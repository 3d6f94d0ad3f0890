package main

import (
	"errors"
	"net/http"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// raftBugs is raft mode's catalog (raft.Bugs() once the core lands).
func raftBugs() []bugInfo { return nil }

// openRaft opens the raft-mode store and the handler for its peer RPCs.
func openRaft(c nodeConfig, t raftTuning) (api.Store, http.Handler, error) {
	return nil, nil, errors.New("raft storage is not built yet")
}
