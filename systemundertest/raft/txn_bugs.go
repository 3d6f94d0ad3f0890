package raft

// Transaction bugs: implemented by the kv layer (systemundertest/kv,
// txnbugs.go), listed here because the catalog is raft mode's. Each is a
// shortcut a developer takes when adding multi-key transactions to a
// replicated store, and each shows a different isolation anomaly.
const (
	BugTxnLocalRead  = "txn-local-read"
	BugTxnKeyByKey   = "txn-key-by-key"
	BugTxnBlindWrite = "txn-blind-write"
	BugTxnWriteSkew  = "txn-write-skew"
)

func txnBugs() []BugInfo {
	return []BugInfo{
		{
			Name: BugTxnLocalRead,
			Description: "read-only transactions are answered from the local state machine of whichever node " +
				"receives them, outside the log and without ReadIndex (\"they change nothing, so they need no " +
				"consensus\"): a follower that has not applied the latest entries, or a leader cut off from the " +
				"majority, serves a consistent but old state, so a transaction misses writes that committed " +
				"before it began (a real-time anomaly: serializable, not strict serializable)",
			Workload: "list-append",
			Nemesis:  []string{"partition"},
		},
		{
			Name: BugTxnKeyByKey,
			Description: "a transaction is carried out micro-op by micro-op through the store's single-key path, " +
				"each write its own log entry and each read its own ReadIndex read, so concurrent transactions " +
				"interleave between their micro-ops and a crash or a leader change in the middle leaves one half " +
				"applied: writes of two transactions interleave on two keys in opposite orders (G0, a write cycle) " +
				"and reads see half of another transaction (G1c, G-single)",
			Workload: "list-append",
			Nemesis:  []string{"kill"},
		},
		{
			Name: BugTxnBlindWrite,
			Description: "the node that receives a transaction reads what it needs from its own copy, computes the " +
				"new values there (the list with the element appended, the balance plus the amount) and proposes " +
				"them as plain writes, with no check at commit that what it read is still current: two transfers " +
				"that read one balance both write it, and one of them is lost (lost update), which the bank sees " +
				"as money created or destroyed",
			Workload: "bank",
			Nemesis:  []string{"partition"},
		},
		{
			Name: BugTxnWriteSkew,
			Description: "the leader locks the keys a transaction writes, reads the rest from its state at the " +
				"start and puts the writes in the log, taking \"we lock what we change\" for serializability: it is " +
				"snapshot isolation, so two transactions that each read what the other writes both commit " +
				"(write skew, G2-item)",
			Workload: "list-append",
		},
	}
}
