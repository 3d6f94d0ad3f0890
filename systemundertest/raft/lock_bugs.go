package raft

// Lock bugs: implemented by the kv layer (systemundertest/kv, lockbugs.go),
// listed here because the catalog is raft mode's.
const BugLockLocalLease = "lock-local-lease"

func lockBugs() []BugInfo {
	return []BugInfo{
		{
			Name: BugLockLocalLease,
			Description: "the leader keeps the locks and their leases in its own memory and grants and releases " +
				"from there at once, without the log (\"the leader is the only one who decides, so it needs no " +
				"consensus\"), with fencing tokens counted from its commit index: a new leader starts with no " +
				"locks and grants one whose holder, served by the previous leader, still holds it, a deposed " +
				"leader goes on granting until it notices, and the new leader's tokens start below the old one's",
			Workload: "lock",
			Nemesis:  []string{"partition", "kill"},
		},
	}
}
