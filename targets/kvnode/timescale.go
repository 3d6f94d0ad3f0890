package kvnode

import (
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// Timescale is raft mode's election timeout (harness.Timescaler); quorum
// mode elects nobody and declares none.
func (s *System) Timescale() time.Duration {
	if s.mode == "raft" {
		return raft.DefaultElectionTimeout
	}
	return 0
}
