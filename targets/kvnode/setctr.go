package kvnode

import "github.com/gauntlet-dev/gauntlet/harness"

// Sets and counters: raft mode puts set adds and counter adds (with their
// request ids) in the log and reads them through ReadIndex.
func (s *System) setCounterFeatures() []harness.Feature {
	if s.mode == "raft" {
		return []harness.Feature{harness.FeatureSet, harness.FeatureCounter}
	}
	return nil
}

func (s *System) lacksSetCounter(f harness.Feature) string {
	if (f == harness.FeatureSet || f == harness.FeatureCounter) && s.mode == "quorum" {
		return "quorum mode serves no sets or counters yet; run the set and counter workloads on --system raft"
	}
	return ""
}
