package nemesis

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestParseAimedAndFeedback(t *testing.T) {
	got, err := Parse("aimed")
	require.NoError(t, err)
	assert.Equal(t, Aimed(), got)
	got, err = Parse("feedback,kill")
	require.NoError(t, err)
	assert.Equal(t, []string{"feedback", "kill"}, got)
	got, err = Parse("feedback:kill-leader+flap")
	require.NoError(t, err)
	assert.Equal(t, []string{"feedback:kill-leader+flap"}, got)
	_, err = Parse("feedback:kill-leader+meteor")
	require.ErrorContains(t, err, `unknown package "meteor"`)
	for _, n := range Aimed() {
		nem, err := New(n)
		require.NoError(t, err)
		assert.Equal(t, n, nem.Name())
		assert.Contains(t, nem.Requires(), harness.FaultLeader, "%s aims at the leader", n)
		_, paced := nem.(harness.Paced)
		assert.True(t, paced, "%s paces itself", n)
	}
}

func TestLeaderMinorityKeepsTheLeaderWithAMinority(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		c := newFake(5, "n4")
		n := &LeaderMinority{}
		ev, err := n.Start(context.Background(), c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		require.Len(t, c.Grudge["n4"], 3, "the leader hears one follower: %s", ev.Description)
		for _, x := range c.Nodes() {
			if x != "n4" && len(c.Grudge[x]) == 3 {
				assert.NotContains(t, c.Grudge[x], "n4", "its companion still hears it")
			}
		}
		_, err = n.Heal(context.Background(), c)
		require.NoError(t, err)
		assert.Nil(t, c.Grudge)
	}
	c := newFake(3, "n1")
	_, err := (&LeaderMinority{}).Start(context.Background(), c, rand.New(rand.NewSource(1)))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"n2", "n3"}, c.Grudge["n1"], "with 3 nodes the leader is alone")
}

// electing is a fake cluster whose majority elects next once the leader is cut off.
type electing struct {
	*fakeCluster
	next string
}

func (c *electing) Leader(ctx context.Context) (string, error) {
	if len(c.Grudge[c.LeaderID]) > 0 {
		return c.next, nil
	}
	return c.fakeCluster.Leader(ctx)
}

func TestNewLeaderStrikesTheWinner(t *testing.T) {
	struck := map[string]int{}
	for seed := int64(0); seed < 30; seed++ {
		c := &electing{fakeCluster: newFake(5, "n1"), next: "n3"}
		n := &NewLeader{}
		ev, err := n.Start(context.Background(), c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.Contains(t, ev.Description, "isolated leader n1; n3 won after")
		if c.Down["n3"] {
			struck["kill"]++
		} else {
			require.Len(t, c.Grudge["n3"], 3, "the new leader is cut off with a minority: %s", ev.Description)
			struck["isolate"]++
		}
		_, err = n.Heal(context.Background(), c)
		require.NoError(t, err)
		assert.Empty(t, c.Down, "killed winners are restarted")
	}
	assert.Positive(t, struck["kill"])
	assert.Positive(t, struck["isolate"])
}

func TestKillAndPauseLeaderAimAtTheLeaderAndPaceByTheElection(t *testing.T) {
	c := newFake(5, "n2")
	rng := rand.New(rand.NewSource(3))
	for _, n := range []harness.Nemesis{&KillLeader{}, &PauseLeaderBrief{}} {
		ev, err := n.Start(context.Background(), c, rng)
		require.NoError(t, err)
		assert.Contains(t, ev.Description, "leader n2")
		hold, quiet := n.(harness.Paced).Pace(rng)
		assert.Less(t, hold, 4*minUnit)
		assert.GreaterOrEqual(t, hold, 300*time.Millisecond)
		assert.Positive(t, quiet)
		_, err = n.Heal(context.Background(), c)
		require.NoError(t, err)
	}
	assert.Empty(t, c.Down)
	assert.Empty(t, c.Paused)
}

func TestFlapHoldsAroundTheElectionTimeout(t *testing.T) {
	c := newFake(5, "n5")
	n := &Flap{}
	rng := rand.New(rand.NewSource(9))
	for range 20 {
		_, err := n.Start(context.Background(), c, rng)
		require.NoError(t, err)
		require.NotEmpty(t, c.Grudge)
		hold, _ := n.Pace(rng)
		assert.GreaterOrEqual(t, hold, minUnit*3/10)
		assert.Less(t, hold, minUnit*3/2)
		_, err = n.Heal(context.Background(), c)
		require.NoError(t, err)
	}
}

func obs(leader string, term uint64, reports bool) harness.Observation {
	sup := map[harness.Fault]bool{harness.FaultLeader: reports}
	for _, f := range []harness.Fault{harness.FaultPartition, harness.FaultKill, harness.FaultPause, harness.FaultLatency} {
		sup[f] = true
	}
	return harness.Observation{Leader: leader, Term: term, NewLeader: true, ReportsLeader: reports, Supported: sup, Ops: 10}
}

func TestFeedbackLeavesOutWhatTheSystemCannotDo(t *testing.T) {
	f, err := NewFeedback(nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewSource(1))
	for i := range 40 {
		f.Steer(obs("", uint64(i), false), rng)
		assert.NotContains(t, Aimed(), f.cur.Name(), "no aimed package on a leaderless system")
		assert.NotEqual(t, "clock", f.cur.Name(), "clock faults are not supported here")
	}
}

func TestFeedbackStrikesFreshLeadersAndLearns(t *testing.T) {
	f, err := NewFeedback(nil)
	require.NoError(t, err)
	rng := rand.New(rand.NewSource(2))
	strikes := 0
	for i := range 60 {
		o := obs("n1", uint64(i), true)
		if f.last == "latency" {
			o.NewErrors = []string{"read: timeout"} // latency keeps finding something new
			o.Leaders = 2
		}
		f.Steer(o, rng)
		if f.reason != "" && f.choices[i].Reason[:10] == "new leader" {
			strikes++
		}
	}
	assert.Greater(t, strikes, 10, "a fresh leader is struck about half the time")
	assert.Greater(t, f.tries["latency"], f.tries["pause"], "the package followed by novelty is chosen more")
	spec, choices := f.Plan()
	require.Len(t, choices, 60)

	// The plan replays the same choices, whatever is observed.
	names, err := Parse(spec)
	require.NoError(t, err)
	replay, err := New(names[0])
	require.NoError(t, err)
	r := replay.(*Feedback)
	for i := range 60 {
		r.Steer(obs("", 0, false), rng)
		assert.Equal(t, choices[i].Package, r.cur.Name())
	}
}

func TestPowerLossKillsEveryNodeAndRestartsThem(t *testing.T) {
	c := newFake(5, "n3")
	p := &PowerLoss{}
	ev, err := p.Start(context.Background(), c, rand.New(rand.NewSource(1)))
	require.NoError(t, err)
	assert.Len(t, c.Down, 5, ev.Description)
	assert.Equal(t, "power loss: kill all {n1,n2,n3,n4,n5} at once", ev.Description)
	_, err = p.Heal(context.Background(), c)
	require.NoError(t, err)
	assert.Empty(t, c.Down)
}

func TestLeaderMinorityCrashRestartsTheDeposedLeader(t *testing.T) {
	crashed := 0
	for seed := int64(0); seed < 10; seed++ {
		c := newFake(5, "n2")
		n := &LeaderMinority{}
		ev, err := n.Start(context.Background(), c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.Empty(t, c.Down, "nothing is killed while the cut holds")
		hev, err := n.Heal(context.Background(), c)
		require.NoError(t, err)
		require.Contains(t, ev.Description, "n2 will crash and restart")
		// Killed and restarted inside its minority, then healed.
		require.Equal(t, []string{"kill n2", "start n2", "heal"}, c.Calls[len(c.Calls)-3:])
		assert.Contains(t, hev.Description, "crash-restart deposed leader n2")
		assert.Empty(t, c.Down)
		assert.Nil(t, c.Grudge)
		crashed++
	}
	assert.Equal(t, 10, crashed)

	// No leader known: the cut is drawn at random and nobody is crashed.
	c := newFake(5, "")
	n := &LeaderMinority{}
	_, err := n.Start(context.Background(), c, rand.New(rand.NewSource(1)))
	require.NoError(t, err)
	_, err = n.Heal(context.Background(), c)
	require.NoError(t, err)
	assert.NotContains(t, strings.Join(c.Calls, ";"), "kill")
}

func TestFeedbackOpensWithEveryPackageOnce(t *testing.T) {
	for _, reports := range []bool{true, false} {
		f, err := NewFeedback(nil)
		require.NoError(t, err)
		rng := rand.New(rand.NewSource(4))
		var got []string
		for i := range 20 {
			o := obs("", uint64(i), reports)
			o.NewLeader = false
			o.Supported[harness.FaultClock] = true
			f.Steer(o, rng)
			got = append(got, f.cur.Name())
		}
		want := openingLeaderless
		if reports {
			want = openingLeader
		}
		assert.Equal(t, want, got[:len(want)], "the opening, in order")
		assert.Equal(t, "opening: every package once, the protocol's classic faults first", f.choices[0].Reason)
		assert.NotContains(t, f.choices[len(want)].Reason, "opening", "then the scores choose")
	}
}

func TestStaleCandidateLeavesTheLaggingFollowerTheOnlyPathToAMajority(t *testing.T) {
	c := newFake(5, "n1")
	n := &StaleCandidate{}
	ev, err := n.Start(context.Background(), c, rand.New(rand.NewSource(7)))
	require.NoError(t, err)
	var f string
	for _, call := range c.Calls {
		if x, ok := strings.CutPrefix(call, "pause "); ok {
			f = x
		}
	}
	require.NotEmpty(t, f, ev.Description)
	require.NotEqual(t, "n1", f, "a follower is frozen, not the leader")
	// Frozen first, the leader killed while it is frozen, the star made,
	// then it wakes.
	require.Equal(t, "pause "+f, c.Calls[0])
	require.Equal(t, "kill n1", c.Calls[1])
	require.True(t, strings.HasPrefix(c.Calls[2], "partition"), c.Calls[2])
	require.Equal(t, "resume "+f, c.Calls[3])
	assert.Empty(t, c.Grudge[f], "the centre hears everyone")
	for _, x := range c.Nodes() {
		if x != f {
			assert.NotContains(t, c.Grudge[x], f, "%s hears the centre", x)
			assert.Len(t, c.Grudge[x], 3, "%s hears no one else", x)
		}
	}
	_, err = n.Heal(context.Background(), c)
	require.NoError(t, err)
	assert.Nil(t, c.Grudge)
	assert.Empty(t, c.Down, "the leader is restarted")
	assert.Empty(t, c.Paused)
}

func TestPauseLeaderBriefKeepsACompanionThatStillAnswersIt(t *testing.T) {
	c := newFake(5, "n4")
	n := &PauseLeaderBrief{}
	ev, err := n.Start(context.Background(), c, rand.New(rand.NewSource(2)))
	require.NoError(t, err)
	assert.True(t, c.Paused["n4"], ev.Description)
	require.Len(t, c.Grudge["n4"], 3, "the leader hears one follower: %s", ev.Description)
	assert.Contains(t, ev.Description, "the cut holds")
	_, err = n.Heal(context.Background(), c)
	require.NoError(t, err)
	assert.Empty(t, c.Paused)
	assert.Nil(t, c.Grudge)
	resume, heal := slices.Index(c.Calls, "resume n4"), slices.Index(c.Calls, "heal")
	assert.Less(t, resume, heal, "it wakes while still cut off")
}

func TestBuiltInNamesCoverEveryPackageAndGroup(t *testing.T) {
	for _, n := range append(append(append(Names(), Aimed()...), Targeted()...), "all", "aimed", "none", "feedback", "feedback:kill+flap") {
		assert.True(t, BuiltIn(n), n)
		if n != "all" && n != "aimed" && n != "none" {
			_, err := New(n)
			assert.NoError(t, err, n)
		}
	}
	assert.False(t, BuiltIn("my-fault"))
}

func TestSlowElectionSlowsEveryLinkThenKillsTheLeader(t *testing.T) {
	c := newFake(5, "n3")
	n := &SlowElection{}
	ev, err := n.Start(context.Background(), c, rand.New(rand.NewSource(5)))
	require.NoError(t, err)
	require.Len(t, c.Calls, 2, ev.Description)
	assert.True(t, strings.HasPrefix(c.Calls[0], "netem"), "the network is slow before the election starts: %v", c.Calls)
	assert.Equal(t, "kill n3", c.Calls[1])
	assert.Nil(t, c.Link.Links, "every link")
	assert.GreaterOrEqual(t, c.Link.Latency, 80*time.Millisecond)
	assert.Less(t, c.Link.Latency, 200*time.Millisecond)
	assert.LessOrEqual(t, c.Link.Jitter, c.Link.Latency/4)
	assert.Contains(t, ev.Description, "then kill leader n3")
	_, err = n.Heal(context.Background(), c)
	require.NoError(t, err)
	assert.Zero(t, c.Link, "the delay is removed")
	assert.Empty(t, c.Down, "the leader is restarted")

	// No leader known: the slow network alone, and nothing to restart.
	c = newFake(5, "")
	ev, err = (&SlowElection{}).Start(context.Background(), c, rand.New(rand.NewSource(5)))
	require.NoError(t, err)
	assert.Contains(t, ev.Description, "no leader to kill")
	assert.Len(t, c.Calls, 1)

	// A deployment that cannot delay links: the leader is killed all the same.
	c = newFake(5, "n2")
	ev, err = (&SlowElection{}).Start(context.Background(), noNetem{c}, rand.New(rand.NewSource(5)))
	require.NoError(t, err)
	assert.Contains(t, ev.Description, "no delay")
	assert.Contains(t, ev.Description, "then kill leader n2")
	assert.True(t, c.Down["n2"])
}

// noNetem is a cluster whose deployment cannot delay links.
type noNetem struct{ *fakeCluster }

func (noNetem) Netem(context.Context, harness.LinkFault) error {
	return fmt.Errorf("no sch_netem: %w", harness.ErrUnsupported)
}
