package exec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

// Transactions: `txn: true` says the node serves POST /txn of protocol
// version 2 (docs/protocol.md), with every micro-op (append and list
// reads, register writes and reads, adds), so list-append, rw-register and
// bank run on it; without it they are refused before anything starts.
// `consistency:` names the model its transactions promise, which the
// isolation checker judges against (default strict-serializable).

var _ harness.FeatureSystem = (*System)(nil)

func (f *File) checkTxn() []error {
	var errs []error
	if f.Txn && f.Protocol == 1 {
		errs = append(errs, fmt.Errorf("txn: true needs protocol 2, which adds POST /txn (write `protocol: 2`)"))
	}
	if f.Consistency != "" {
		if !f.Txn {
			errs = append(errs, fmt.Errorf("consistency: %s is what transactions promise, and the file does not say txn: true", f.Consistency))
		}
		if !slices.Contains(workloads.ConsistencyModels(), f.Consistency) {
			errs = append(errs, fmt.Errorf("consistency: %q is not a model Gauntlet knows (one of %s)", f.Consistency, strings.Join(workloads.ConsistencyModels(), ", ")))
		}
	}
	return errs
}

// Features: the transactional ones when the file says txn: true.
func (s *System) Features() []harness.Feature {
	if !s.f.Txn {
		return append(s.setCounterFeatures(), s.lockFeatures()...) // setctr.go, lock.go
	}
	return append(append([]harness.Feature{harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd}, s.setCounterFeatures()...), s.lockFeatures()...)
}

// Lacks says how to offer the transactional features.
func (s *System) Lacks(f harness.Feature) string {
	if why := lacksSetCounter(f); why != "" {
		return why
	}
	switch f {
	case harness.FeatureLock:
		return lacksLock // lock.go
	case harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd:
		return "a system file offers transactions with `protocol: 2` and `txn: true` when its nodes serve POST /txn (docs/protocol.md)"
	}
	return ""
}

// Consistency is the file's consistency: ("" when it names none).
func (s *System) Consistency() string { return s.f.Consistency }
