package consul

import "time"

// Timescale is Consul's Raft election timeout (harness.Timescaler): 1 s
// scaled by performance.raft_multiplier, as Consul scales its heartbeat
// and election timeouts.
func (s *System) Timescale() time.Duration {
	return time.Duration(max(s.o.RaftMultiplier, 1)) * time.Second
}
