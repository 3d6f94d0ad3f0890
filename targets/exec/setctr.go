package exec

import (
	"errors"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Sets and counters: `set: true` and `counter: true` say the node serves
// the set and counter endpoints of protocol version 2 (docs/protocol.md),
// so the set and counter workloads run on it; without them they are
// refused before anything starts.

func (f *File) checkSetCounter() []error {
	var errs []error
	if f.Set && f.Protocol == 1 {
		errs = append(errs, errors.New("set: true needs protocol 2, which adds the set endpoints (write `protocol: 2`)"))
	}
	if f.Counter && f.Protocol == 1 {
		errs = append(errs, errors.New("counter: true needs protocol 2, which adds the counter endpoints (write `protocol: 2`)"))
	}
	return errs
}

func (s *System) setCounterFeatures() []harness.Feature {
	var out []harness.Feature
	if s.f.Set {
		out = append(out, harness.FeatureSet)
	}
	if s.f.Counter {
		out = append(out, harness.FeatureCounter)
	}
	return out
}

func lacksSetCounter(f harness.Feature) string {
	switch f {
	case harness.FeatureSet:
		return "a system file offers sets with `protocol: 2` and `set: true` when its nodes serve POST /set/{key}/add and GET /set/{key} (docs/protocol.md)"
	case harness.FeatureCounter:
		return "a system file offers counters with `protocol: 2` and `counter: true` when its nodes serve POST /counter/{key}/add and GET /counter/{key}, applying each request id once (docs/protocol.md)"
	}
	return ""
}
