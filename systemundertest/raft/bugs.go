package raft

// BugInfo is one entry of raft mode's catalog of injectable bugs.
type BugInfo struct {
	Name        string
	Description string
	Workload    string   // workload expected to expose it
	Nemesis     []string // fault packages expected to expose it
	// Reach is "simulation" for bugs that only the deterministic simulation
	// (Simulate) is expected to catch: their window is a crash or a message
	// between two specific messages, which no process-level fault can aim
	// at. A black-box run may still catch them, by luck.
	Reach string
}

// ReachSimulation marks a bug only the simulation is expected to catch.
const ReachSimulation = "simulation"

// Bug names (Config.Bug).
const (
	BugStaleRead       = "stale-read"
	BugAckBeforeCommit = "ack-before-commit"
	BugCommitOldTerm   = "commit-old-term"
	BugForgetVote      = "forget-vote"
	BugLeaseNoBound    = "lease-no-bound"
	BugAckBeforeFsync  = "ack-before-fsync"

	BugDoubleVote           = "double-vote"
	BugVoteIgnoresIndex     = "vote-ignores-index"
	BugHeartbeatCommit      = "heartbeat-commit"
	BugReadQuorumOffByOne   = "read-quorum-off-by-one"
	BugReadBeforeTermCommit = "read-before-term-commit"
	BugTruncateOnAppend     = "truncate-on-append"
	BugSnapshotAtCommit     = "snapshot-at-commit"
	BugRestartCommitLog     = "restart-commit-log"
)

// Bugs is the catalog of raft mode's injectable bugs.
func Bugs() []BugInfo {
	return append([]BugInfo{
		{
			Name: BugStaleRead,
			Description: "reads are served from the local state machine of whichever node got them, " +
				"without confirming leadership (implemented by the kv layer; ReadIndex returns at once)",
			Workload: "kv",
			Nemesis:  []string{"partition"},
		},
		{
			Name: BugAckBeforeCommit,
			Description: "a write is acknowledged once the leader appended and fsynced it locally, " +
				"before a majority has it, so a new leader can lose an acknowledged write",
			Workload: "kv",
			Nemesis:  []string{"partition", "kill"},
		},
		{
			Name: BugCommitOldTerm,
			Description: "a leader commits entries of earlier terms by counting replicas (and appends no " +
				"no-op on election), so a committed entry can be overwritten (Raft §5.4.2, Figure 8); it needs " +
				"a leader to win, replicate an old entry to a majority and crash before any entry of its own " +
				"term reaches a majority, then a rival to win back, which steady client writes almost never allow",
			Workload: "kv",
			Nemesis:  []string{"partition", "kill"},
			Reach:    ReachSimulation,
		},
		{
			Name: BugForgetVote,
			Description: "the vote is not persisted, so a node restarted in the same term may vote twice " +
				"and elect two leaders in one term; it needs the node to crash between granting one vote and " +
				"receiving another candidate's request of the same term (or its new leader's first append)",
			Workload: "kv",
			Nemesis:  []string{"kill", "partition"},
			Reach:    ReachSimulation,
		},
		{
			Name: BugLeaseNoBound,
			Description: "a leader serves reads locally while it believes it leads, with no lease bound and " +
				"no CheckQuorum step-down, so a deposed or partitioned leader serves stale reads",
			Workload: "kv",
			Nemesis:  []string{"partition"},
		},
		{
			Name: BugAckBeforeFsync,
			Description: "every node acknowledges log appends from a memory buffer written (and fsynced) only every " +
				"200 ms, as a store with fsync off does, so killing a majority at once loses acknowledged writes",
			Workload: "kv",
			Nemesis:  []string{"kill"},
		},
	}, append(append(append(protocolBugs(), txnBugs()...), setCounterBugs()...), lockBugs()...)...)
}

// knownBug reports whether name is "" or in the catalog.
func knownBug(name string) bool {
	if name == "" {
		return true
	}
	for _, b := range Bugs() {
		if b.Name == name {
			return true
		}
	}
	return false
}
