package raft

import (
	"log/slog"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// Config configures a Node. Zero durations get defaults.
type Config struct {
	ID        string   // this node's id
	Peers     []string // every member's id, this node included
	Transport Transport
	Log       LogStore
	Stable    StableStore
	Snapshots SnapshotStore
	FSM       FSM
	Clock     clock.Clock

	ElectionTimeout   time.Duration // base; each election waits a random [T, 2T)
	HeartbeatInterval time.Duration
	// SnapshotThreshold: take a snapshot and compact once this many entries
	// were applied since the last one (0 = default).
	SnapshotThreshold uint64
	// MaxBatch bounds entries per append message and per fsync batch.
	MaxBatch int

	// DisablePreVote turns pre-vote off (it is on by default).
	DisablePreVote bool

	Seed   int64  // randomizes election timeouts
	Bug    string // one name of Bugs(), "" = correct
	Logger *slog.Logger
}
