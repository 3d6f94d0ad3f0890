package e2e

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// The lock workload through --system exec: pystore's locks, granted by
// its primary with leases and fencing tokens, stay valid while the
// primary is killed and restarted; its lock-in-memory bug (grants not
// logged, tokens from 1 again after a restart) is caught.
func TestPythonStoreLocks(t *testing.T) {
	sys := pystore(t)
	// Three clients: one lock serves one at a time, and fewer waiters
	// failing while the primary is down keep the share of ok ops well
	// above what the stats checker needs on a loaded machine.
	test := harness.Test{System: sys, Workload: "lock", Nodes: 3, Concurrency: 3, Nemesis: []string{"kill-leader"},
		TimeLimit: seconds(10), Seed: 1}
	res := gauntlettest.Run(t, test)
	mutex := result(t, res, "mutex")
	assert.Contains(t, mutex.Summary, "never overlapped")
	assert.Contains(t, mutex.Summary, "fencing tokens unique and increasing")

	test.Bug = "lock-in-memory"
	res = gauntlettest.RunCatch(t, test, 1, 2)
	mutex = result(t, res, "mutex")
	require.Equal(t, harness.Invalid, mutex.Validity)
	assert.Contains(t, mutex.Summary, "fencing violated")
}

func result(t *testing.T, res *harness.Results, checker string) harness.Result {
	t.Helper()
	for _, r := range res.Checkers {
		if r.Checker == checker {
			return r
		}
	}
	require.Failf(t, "no result", "no %s result in %v", checker, res.Checkers)
	return harness.Result{}
}
