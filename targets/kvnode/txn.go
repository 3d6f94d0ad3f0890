package kvnode

import "github.com/gauntlet-dev/gauntlet/harness"

// Transactions: raft mode applies a transaction as one log entry (strict
// serializable: see systemundertest/kv/txn.go); quorum mode has none.

var (
	_ harness.FeatureSystem     = (*System)(nil)
	_ harness.FeatureGap        = (*System)(nil)
	_ harness.ConsistencySystem = (*System)(nil)
)

// Features: raft mode's transactions (appends and list reads, register
// writes and reads, adds).
func (s *System) Features() []harness.Feature {
	if s.mode != "raft" {
		return s.setCounterFeatures()
	}
	return append([]harness.Feature{harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd, harness.FeatureLock}, s.setCounterFeatures()...)
}

// Lacks says why quorum mode has no transactions.
func (s *System) Lacks(f harness.Feature) string {
	if why := s.lacksSetCounter(f); why != "" {
		return why
	}
	switch f {
	case harness.FeatureLock:
		if s.mode == "quorum" {
			return noLocks // lock.go
		}
	case harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd:
		if s.mode == "quorum" {
			return "quorum mode's replicas apply each key independently (every key has its own replica set and versions), so it has no atomic multi-key transactions; run transactional workloads on --system raft"
		}
	}
	return ""
}

// Consistency: raft mode's transactions are strict serializable.
func (s *System) Consistency() string {
	if s.mode == "raft" {
		return "strict-serializable"
	}
	return ""
}
