package nemesis

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Every package with durations of its own takes the timescale, and draws
// them in its units: a system that elects in 5 s gets holds five times as
// long, one that elects in 500 ms keeps the 1 s unit.
func TestPackagesScaleByTheTimescale(t *testing.T) {
	for _, name := range append(Aimed(), "power-loss", "stutter", "clock", "feedback") {
		n, err := New(name)
		require.NoError(t, err)
		_, ok := n.(harness.Timescaled)
		assert.True(t, ok, "%s takes the timescale", name)
	}
	holds := func(ts time.Duration) (lo, hi time.Duration) {
		n := &LeaderMinority{}
		n.SetTimescale(ts)
		rng := rand.New(rand.NewSource(1))
		lo = time.Hour
		for range 200 {
			h, _ := n.Pace(rng)
			lo, hi = min(lo, h), max(hi, h)
		}
		return lo, hi
	}
	lo, hi := holds(5 * time.Second)
	assert.GreaterOrEqual(t, lo, 7500*time.Millisecond, "1.5 units of 5 s")
	assert.Less(t, hi, 20*time.Second, "4 units of 5 s")
	assert.Greater(t, hi, 15*time.Second)
	lo1, hi1 := holds(500 * time.Millisecond)
	lo0, hi0 := holds(0)
	assert.Equal(t, [2]time.Duration{lo0, hi0}, [2]time.Duration{lo1, hi1}, "below a second the unit stays a second")
	assert.GreaterOrEqual(t, lo1, 1500*time.Millisecond)

	// Feedback hands the timescale to what it chooses from.
	f, err := NewFeedback(nil)
	require.NoError(t, err)
	f.SetTimescale(5 * time.Second)
	assert.Equal(t, 5*time.Second, f.byName["flap"].(*Flap).timescale)
	assert.Equal(t, 5*time.Second, f.byName["kill-leader"].(*KillLeader).timescale)

	// The new leader's wait and the clock's skews grow too.
	c := newFake(3, "n1")
	k := &Clock{}
	k.SetTimescale(5 * time.Second)
	rng := rand.New(rand.NewSource(2))
	var most time.Duration
	for range 50 {
		clear(c.Clocks)
		_, err := k.Start(context.Background(), c, rng)
		require.NoError(t, err)
		for _, d := range c.Clocks {
			most = max(most, d.Abs())
			assert.GreaterOrEqual(t, d.Abs(), 500*time.Millisecond, "0.1 units")
			assert.LessOrEqual(t, d.Abs(), 50*time.Second, "10 units")
		}
		_, err = k.Heal(context.Background(), c)
		require.NoError(t, err)
	}
	assert.Greater(t, most, 10*time.Second, "skews beyond the 1 s unit's 10 s")
}
