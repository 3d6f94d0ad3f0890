package raft

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	flagSeed  = flag.Int64("seed", 0, "TestSim: run only this seed (reproduce a failure)")
	flagSeeds = flag.Int("seeds", 120, "TestSim: number of seeds to run")
	flagTrace = flag.Bool("simtrace", false, "TestSim: log the simulation's events")
	flagBug   = flag.String("simbug", "", "TestSim: run with this bug switched on")
)

func TestSim(t *testing.T) {
	var trace func(string, ...any)
	if *flagTrace {
		trace = t.Logf
	}
	first, last := int64(1), int64(*flagSeeds)
	if *flagSeed != 0 {
		first, last = *flagSeed, *flagSeed
	} else if testing.Short() {
		last = 20
	}
	var total simStats
	for seed := first; seed <= last; seed++ {
		st, err := runSim(seed, simOptsFor(seed, *flagBug), trace)
		require.NoError(t, err)
		total.add(st)
	}
	t.Logf("seeds %d..%d: %d steps, %d acknowledged proposals, %d linearizable reads, %d elections, "+
		"%d crashes (%d mid-write), %d snapshots sent",
		first, last, total.steps, total.acked, total.reads, total.elections, total.crashes, total.tornWrites, total.snapsSent)
	// A run that checks nothing proves nothing.
	require.Positive(t, total.acked)
	require.Positive(t, total.reads)
	require.Positive(t, total.crashes)
}

// The simulation must find each bug it claims to catch within a bounded
// number of seeds; otherwise its fault mix is too weak to be trusted.
func TestSimFindsBugs(t *testing.T) {
	for _, bug := range []string{BugStaleRead, BugAckBeforeCommit, BugCommitOldTerm, BugForgetVote, BugLeaseNoBound,
		BugDoubleVote, BugVoteIgnoresIndex, BugHeartbeatCommit, BugReadQuorumOffByOne, BugReadBeforeTermCommit,
		BugTruncateOnAppend, BugSnapshotAtCommit, BugRestartCommitLog} {
		t.Run(bug, func(t *testing.T) {
			const budget = 300
			for seed := int64(1); seed <= budget; seed++ {
				if _, err := runSim(seed, simOptsFor(seed, bug), nil); err != nil {
					t.Logf("found with seed %d: %v", seed, err)
					return
				}
			}
			t.Fatalf("the simulation did not find bug %s in %d seeds", bug, budget)
		})
	}
}

// A failing seed reproduces exactly: the same violation, word for word.
func TestSimulateIsDeterministic(t *testing.T) {
	first := Simulate(5, BugCommitOldTerm)
	require.Error(t, first)
	for range 5 {
		require.Equal(t, first.Error(), Simulate(5, BugCommitOldTerm).Error())
	}
	require.ErrorContains(t, Simulate(1, "no-such-bug"), "unknown raft bug")
}
