package raft

// Counter bugs: implemented by the kv layer (systemundertest/kv,
// setctr.go), listed here because the catalog is raft mode's.
const (
	BugIncrDedupInMemory = "incr-dedup-in-memory"
)

func setCounterBugs() []BugInfo {
	return []BugInfo{
		{
			Name: BugIncrDedupInMemory,
			Description: "counter adds are deduplicated by their request id in a table in the leader's memory " +
				"instead of in the replicated state: a client that retries an add whose answer it lost, after the " +
				"leader changed or restarted, has it applied twice, and reads exceed what the acknowledged adds allow",
			Workload: "counter",
			Nemesis:  []string{"kill", "partition"},
		},
	}
}
