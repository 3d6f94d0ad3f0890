package kvnode

import "github.com/gauntlet-dev/gauntlet/harness"

// Sets and counters: raft mode puts set adds and counter adds (with their
// request ids) in the log and reads them through ReadIndex; quorum mode
// keeps them as CRDTs (an add-only set, a PN counter) merged by its
// replicas (systemundertest/quorum/crdt.go).
func (s *System) setCounterFeatures() []harness.Feature {
	return []harness.Feature{harness.FeatureSet, harness.FeatureCounter}
}

func (s *System) lacksSetCounter(harness.Feature) string { return "" }
