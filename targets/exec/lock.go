package exec

import (
	"fmt"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Locks: `lock: true` says the node serves POST /lock/{name}/acquire and
// /release (docs/protocol.md, any protocol version), so the lock workload
// runs on it; `lock_ttl:` is the lease its clients ask for (default 1s).

// A lease shorter than a request's round trip, or longer than a run, is a
// typo.
const (
	minLockTTL = 10 * time.Millisecond
	maxLockTTL = 10 * time.Minute
)

func (f *File) checkLock() []error {
	if f.LockTTL == 0 {
		return nil
	}
	var errs []error
	if !f.Lock {
		errs = append(errs, fmt.Errorf("lock_ttl: %s is the lease of locks, and the file does not say lock: true", f.LockTTL))
	}
	if f.LockTTL < minLockTTL || f.LockTTL > maxLockTTL {
		errs = append(errs, fmt.Errorf("lock_ttl: %s is out of [%s, %s]", f.LockTTL, minLockTTL, maxLockTTL))
	}
	return errs
}

func (s *System) lockFeatures() []harness.Feature {
	if !s.f.Lock {
		return nil
	}
	return []harness.Feature{harness.FeatureLock}
}

// lockTTL is the lease the clients ask for (0: the wire default).
func (s *System) lockTTL() time.Duration { return s.f.LockTTL }

const lacksLock = "a system file offers locks with `lock: true` when its nodes serve POST /lock/{name}/acquire and /release (docs/protocol.md)"
