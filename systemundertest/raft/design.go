// Design notes for the raft core. (The package doc is in api.go.)
//
// Layers. core (core.go) is the protocol as a deterministic, single-threaded
// state machine without I/O: tick, step(message), propose, readIndex in;
// hard state and entries to persist, messages, committed entries and
// confirmed reads out. driver (driver.go) does the I/O in a fixed order and
// completes proposals and reads. Node (node.go) runs one driver on one
// goroutine with a real ticker; the simulation (sim_test.go) runs several
// drivers on a simulated clock and network, so it tests the same persistence
// order and apply path as production.
//
// Durability. Per batch the driver writes, in order: the hard state (term,
// vote) if it changed, a received snapshot (then drops the log it covers),
// a conflicting log suffix, the new entries (one Append, one fsync). Only
// then are votes and append acknowledgements sent. The leader's appends and
// heartbeats go out before its own fsync (thesis §10.2.1): it counts itself
// toward a commit only once its log is durable. Restart reads the snapshot,
// the hard state and the log after the snapshot, repairing the leftovers of
// a crash between saving a snapshot and truncating the log.
//
// Throughput. Everything that arrives while the node is busy is one batch:
// many Propose calls become one Append, one fsync and one append message per
// follower. Followers in "replicate" state get pipelined appends (bounded in
// flight); a follower whose acknowledgements stop is probed again after two
// heartbeat intervals. Entries that are committed and durable are applied,
// and their callers answered, before the next batch's fsync.
//
// Elections. Randomized timeouts in [T, 2T) ticks seeded by Config.Seed and
// the node id; pre-vote first (a node cut off does not inflate its term);
// CheckQuorum: a leader that has not heard from a majority for an election
// timeout steps down, and a node that heard from a leader within the timeout
// ignores vote requests. A new leader appends a no-op so that its term's
// first entry, and with it everything before, can commit: the leader only
// commits an index of its own term by counting (§5.4.2).
//
// Replication. The consistency check rejects with a hint: the follower's
// last index when its log is short, otherwise the index before the whole
// conflicting term, so the leader skips a term per round trip. A follower
// whose next entry was compacted gets the latest snapshot (MsgSnap).
// Snapshots are taken after SnapshotThreshold applied entries; the log is
// then truncated up to the snapshot.
//
// ReadIndex. The leader records its commit index, sends a heartbeat round
// numbered by Message.Context (reads arriving together share one round), and
// releases the reads once a majority acknowledged a round at least as new;
// they are answered when the state machine has applied the recorded index. A
// leader that has not yet committed an entry of its term queues reads until
// its no-op commits. Followers answer ErrNotLeader.
//
// Outcomes. Propose answers ErrNotLeader or ErrStopped only when nothing was
// appended. Once appended, the caller gets the FSM's result when the entry
// at that index is applied with the term it was proposed in, and
// ErrUnknownOutcome if another entry lands there, leadership is lost, the
// context ends or the node stops.
//
// Bugs (Config.Bug, catalog in bugs.go) live where the correct rule is:
// ack-before-commit in driver.process, commit-old-term in core.maybeCommit
// and core.becomeLeader (no no-op), forget-vote in driver.process (the vote
// is not written), lease-no-bound in core.readIndex and the CheckQuorum
// switch, stale-read in Node.ReadIndex (and in the kv layer); the protocol
// bugs of protocol_bugs.go: double-vote in core.handleVote,
// vote-ignores-index in core.upToDate, heartbeat-commit in
// core.bcastHeartbeat, read-quorum-off-by-one in core.confirmReads,
// read-before-term-commit in core.readIndex, truncate-on-append in
// core.handleApp, snapshot-at-commit in driver.snapshot, restart-commit-log
// in newCore.

package raft
