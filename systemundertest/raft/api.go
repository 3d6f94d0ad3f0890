// Package raft is the consensus core of kvnode's raft mode.
//
// The core talks to the world only through the small interfaces in this file
// (Transport, LogStore, StableStore, SnapshotStore, clock.Clock, FSM), each
// with an in-memory implementation beside the real one, so the same core runs
// in a deterministic single-process simulation and in the kvnode binary.
//
// The public surface below is a contract with systemundertest/kv and
// cmd/kvnode: keep these names and signatures stable.
package raft

import (
	"context"
	"errors"
)

// Errors returned by Node methods. The HTTP layer maps them: ErrNotLeader and
// ErrStopped before proposing mean "certainly not applied"; ErrUnknownOutcome
// means "may have been applied".
var (
	// ErrNotLeader: this node is not the leader; nothing was proposed.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrUnknownOutcome: the entry was proposed but this node cannot tell
	// whether it committed (leadership lost, context done, node stopped).
	ErrUnknownOutcome = errors.New("raft: outcome unknown")
	// ErrStopped: the node is shut down; nothing was proposed.
	ErrStopped = errors.New("raft: node stopped")
)

// Transport sends messages to peers. Send must not block the caller for long
// and may drop messages (raft retries); incoming messages are handed to
// Node.Deliver by whoever receives them.
type Transport interface {
	Send(m Message)
}

// LogStore holds the log. Append and the truncations are durable (fsynced)
// when they return: a node acknowledges nothing it has not persisted.
type LogStore interface {
	// FirstIndex and LastIndex bound the entries held (0, 0 when empty).
	FirstIndex() (uint64, error)
	LastIndex() (uint64, error)
	// Entries returns entries [lo, hi).
	Entries(lo, hi uint64) ([]Entry, error)
	// Append stores entries after the last one (indexes must follow on).
	Append(entries []Entry) error
	// TruncateSuffix deletes entries with index >= from (conflict resolution).
	TruncateSuffix(from uint64) error
	// TruncatePrefix deletes entries with index <= upto (compaction after a snapshot).
	TruncatePrefix(upto uint64) error
}

// HardState is what must survive a crash besides the log.
type HardState struct {
	Term uint64 `json:"term"`
	Vote string `json:"vote"`
}

// StableStore persists the hard state; Set is durable when it returns.
type StableStore interface {
	HardState() (HardState, error)
	SetHardState(HardState) error
}

// Snapshot is the state machine at an index, plus the configuration.
type Snapshot struct {
	Index uint64   `json:"index"`
	Term  uint64   `json:"term"`
	Peers []string `json:"peers,omitempty"`
	Data  []byte   `json:"data"`
}

// SnapshotStore keeps the latest snapshot; Save is durable when it returns.
type SnapshotStore interface {
	Save(Snapshot) error
	// Latest returns the newest snapshot, ok=false if there is none.
	Latest() (s Snapshot, ok bool, err error)
}

// FSM is the replicated state machine. Apply is called in log order, exactly
// once per committed command entry, and must be deterministic.
type FSM interface {
	Apply(index uint64, data []byte) any
	Snapshot() ([]byte, error)
	Restore(data []byte) error
}

// Status is what a node says of itself (GET /debug/status).
type Status struct {
	ID       string `json:"id"`
	Role     string `json:"role"` // leader | follower | candidate
	Term     uint64 `json:"term"`
	Leader   string `json:"leader"`
	Commit   uint64 `json:"commit"`
	Applied  uint64 `json:"applied"`
	LastLog  uint64 `json:"last_log"`
	Snapshot uint64 `json:"snapshot"`
}

// NodeAPI is the contract the kv layer uses (implemented by *Node).
type NodeAPI interface {
	// Deliver hands an incoming message to the node.
	Deliver(m Message)
	// Propose replicates data and waits until it is applied on this node,
	// returning the FSM's result. Errors: ErrNotLeader / ErrStopped (nothing
	// proposed), ErrUnknownOutcome (proposed, outcome unknown).
	Propose(ctx context.Context, data []byte) (any, error)
	// ReadIndex returns once a linearizable read may be served from this
	// node's state machine: leadership was confirmed by a majority after the
	// call began and the FSM has applied at least the commit index of that
	// moment. ErrNotLeader if this node is not the leader.
	ReadIndex(ctx context.Context) error
	Status() Status
	// Stop halts the node; pending calls return ErrUnknownOutcome or ErrStopped.
	Stop()
}
