package harnesstest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/harness/harnesstest"
	"github.com/gauntlet-dev/gauntlet/nemesis"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

// A whole run on the in-memory cluster: the register workload under
// partitions is valid (one store serves every node), and the cluster saw
// the faults and the teardown.
func TestRunOnTheInMemoryCluster(t *testing.T) {
	sys := harnesstest.NewSystem()
	dep := &harnesstest.Deployment{}
	w, err := workloads.New("register", workloads.Options{})
	require.NoError(t, err)
	part, err := nemesis.New("partition")
	require.NoError(t, err)
	tst := harness.Test{System: "mem", Deploy: "mem", Workload: "register", Nemesis: []string{"partition"},
		NemesisInterval: harness.Duration(50 * time.Millisecond), Nodes: 3, Concurrency: 3,
		TimeLimit: harness.Duration(time.Minute), Seed: 1, Out: t.TempDir()}
	// End the run once the cluster was partitioned and healed twice, not
	// at a time a loaded machine may not fill.
	p := harness.Parts{System: sys, Deployment: dep, Workload: w, Nemeses: []harness.Nemesis{part},
		Watch: func(op harness.Op) bool {
			c := dep.Cluster()
			return c != nil && strings.Count(strings.Join(c.CallsSoFar(), "\n"), "heal") >= 2
		}}
	res, err := harness.Run(context.Background(), tst, p)
	require.NoError(t, err)
	for _, c := range res.Checkers {
		t.Logf("%s %s %s", c.Checker, c.Validity, c.Summary)
	}
	assert.Equal(t, harness.Valid, res.Verdict)
	c := dep.Cluster()
	require.NotNil(t, c)
	assert.Contains(t, c.Calls[0], "partition ")
	assert.Nil(t, c.Grudge, "healed")
	assert.EqualValues(t, 1, c.Closes.Load())
	assert.EqualValues(t, 1, c.Collects.Load())
}

func TestClusterRecordsAndFails(t *testing.T) {
	ctx := context.Background()
	c := harnesstest.NewCluster(3, "n2")
	l, err := c.Leader(ctx)
	require.NoError(t, err)
	assert.Equal(t, "n2", l)
	require.NoError(t, c.Kill(ctx, "n1"))
	require.NoError(t, c.Pause(ctx, "n3"))
	assert.True(t, c.Down["n1"])
	assert.True(t, c.Paused["n3"])
	require.NoError(t, c.Start(ctx, "n1"))
	assert.False(t, c.Down["n1"])
	c.FailAll = true
	assert.ErrorIs(t, c.SetClock(ctx, "n2", time.Second), harnesstest.ErrInjected)
	assert.Equal(t, time.Second, c.Clocks["n2"], "recorded even when it fails")
	assert.Equal(t, []string{"kill n1", "pause n3", "start n1", "clock n2 1s"}, c.Calls)
	c.LeaderID = ""
	_, err = c.Leader(ctx)
	assert.Error(t, err)
}
