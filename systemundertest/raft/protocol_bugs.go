package raft

// protocolBugs are one-line mistakes in the election, commit, read,
// log-repair, snapshot and restart paths, of the kind real Raft
// implementations shipped. Their Reach is what was measured (see
// docs/measurements.md), not what was hoped.
func protocolBugs() []BugInfo {
	return []BugInfo{
		{
			Name: BugDoubleVote,
			Description: "a voter grants any candidate while it knows no leader, forgetting whom it already " +
				"voted for in the term, so split votes can elect two leaders in one term (election); it needs two candidacies in one term " +
				"within a message delay of each other, which pre-vote and timeouts drawn over [T, 2T) make rare on a fast network; " +
				"slow-election (every link slowed, then the leader killed) makes contended elections the rule, and the runner's " +
				"election-safety check sees the two leaders in the nodes' statuses",
			Workload: "kv",
			Nemesis:  []string{"slow-election", "stale-candidate"},
		},
		{
			Name: BugVoteIgnoresIndex,
			Description: "the up-to-date check compares last terms only, so a candidate with a shorter log of " +
				"the same last term wins and truncates committed entries (election, Raft §5.4.1); it needs the leader to die while one " +
				"follower lags by entries already committed, and that follower to time out first: stale-candidate makes both happen",
			Workload: "kv",
			Nemesis:  []string{"stale-candidate"},
		},
		{
			Name: BugHeartbeatCommit,
			Description: "heartbeats carry the leader's commit index instead of min(match, commit), so a " +
				"follower with a stale divergent suffix applies entries the leader never committed (commit)",
			Workload: "kv",
			Nemesis:  []string{"partition", "kill"},
		},
		{
			Name: BugReadQuorumOffByOne,
			Description: "ReadIndex confirms leadership with one acknowledgement fewer than a majority, so a " +
				"leader cut off with a minority serves stale reads until it steps down (read confirmation); CheckQuorum deposes it one " +
				"to two election timeouts after the cut, about when the majority has elected and committed, so a plain cut rarely shows " +
				"it; pause-leader-brief freezes the leader beside its one follower and wakes it into a moved-on cluster",
			Workload: "kv",
			Nemesis:  []string{"pause-leader-brief"},
		},
		{
			Name: BugReadBeforeTermCommit,
			Description: "a new leader answers ReadIndex at its commit index before committing an entry of its " +
				"own term, when that index may lag what the old leader committed (read confirmation, Raft §6.4); the window is from the election to " +
				"the commit of the new leader's no-op, one round trip (about a millisecond on loopback)",
			Workload: "kv",
			Nemesis:  []string{"kill", "partition"},
			Reach:    ReachSimulation,
		},
		{
			Name: BugTruncateOnAppend,
			Description: "a follower truncates its log after every append's entries, even matching ones, so a " +
				"late or duplicated append drops entries it already acknowledged (log repair); it needs an append delivered after a newer one on " +
				"the same link, which one connection's in-order delivery rules out: kvnode sends one batch at a time per peer " +
				"unless run with --pipeline N (batches on N connections, as etcd's pipeline), and then the simulation's reorder makes it",
			Workload: "kv",
			Nemesis:  []string{"partition", "kill"},
			Reach:    ReachSimulation,
		},
		{
			Name: BugSnapshotAtCommit,
			Description: "a snapshot is labelled with the commit index instead of the applied index, so a node " +
				"restarted from it lacks the entries in between (apply/snapshot); it needs a snapshot (every 8192 entries by default) " +
				"taken in the moment a follower's commit index is ahead of its fsync, then a restart from it",
			Workload: "kv",
			Nemesis:  []string{"kill"},
			Reach:    ReachSimulation,
		},
		{
			Name: BugRestartCommitLog,
			Description: "a restarted node takes its whole durable log for committed and applies it, including " +
				"entries a new leader later overwrites (restart)",
			Workload: "kv",
			Nemesis:  []string{"kill"},
		},
	}
}
