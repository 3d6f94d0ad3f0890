package kvnode

// Locks: raft mode grants them through its log, with leases and the
// grant's log index as fencing token (systemundertest/kv/lock.go); its
// clients are targets/wire's careful lock clients.

// noLocks is why quorum mode lacks the lock feature.
const noLocks = "quorum mode has no leader and no single order of operations to decide who holds a lock " +
	"(each key's replicas accept writes independently, last writer wins), so it offers no locks; " +
	"run the lock workload on --system raft"
