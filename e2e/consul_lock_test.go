package e2e

import (
	"testing"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/consul"
)

// Consul's sessions and acquire/release (targets/consul/lock.go) under
// kills, with a short lock-delay so that locks of dead sessions come back
// within the run: mutual exclusion holds and every grant carries its
// LockIndex as the fencing token.
func TestConsulLockUnderKills(t *testing.T) {
	buildConsul(t)
	res := gauntlettest.Run(t, harness.Test{
		System: "consul", Deploy: "local", Workload: "lock",
		Nemesis: []string{"kill"}, NemesisInterval: seconds(3),
		Nodes: 3, Concurrency: 4, TimeLimit: seconds(12), Seed: 1,
		Options: map[string]string{consul.OptLockDelay: "1s"},
	})
	assertTokens(t, res)
}
