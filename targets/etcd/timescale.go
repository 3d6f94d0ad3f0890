package etcd

import "time"

// Timescale is the members' election timeout (harness.Timescaler): a
// follower that hears no leader for [T, 2T) stands for election, so faults
// shorter than T cause none. etcd's own default is 1 s.
func (s *System) Timescale() time.Duration {
	if s.o.ElectionMS > 0 {
		return time.Duration(s.o.ElectionMS) * time.Millisecond
	}
	return time.Second
}
