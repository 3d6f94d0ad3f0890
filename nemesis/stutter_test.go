package nemesis

import (
	"context"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stutterFor runs a stutter until it has frozen and thawed freezes times
// (however long a loaded machine takes), then heals it.
func stutterFor(t *testing.T, c *fakeCluster, seed int64, freezes int) []string {
	t.Helper()
	s := &Stutter{}
	ev, err := s.Start(context.Background(), c, rand.New(rand.NewSource(seed)))
	require.NoError(t, err)
	assert.Contains(t, ev.Description, "stutter")
	require.Eventually(t, func() bool { return len(c.CallsSoFar()) >= 2*freezes }, time.Minute, 10*time.Millisecond)
	hev, err := s.Heal(context.Background(), c)
	require.NoError(t, err)
	assert.Contains(t, hev.Description, "stutter over")
	return c.Calls
}

func TestStutterFreezesOneNodeAtATimeAndLeavesNoneFrozen(t *testing.T) {
	c := newFake(5, "")
	calls := stutterFor(t, c, 1, 2)
	// Each pause is followed by the resume of the same node.
	require.GreaterOrEqual(t, len(calls), 4, calls)
	require.Zero(t, len(calls)%2, "every freeze ends in a resume: %v", calls)
	for i := 0; i < len(calls); i += 2 {
		node, ok := strings.CutPrefix(calls[i], "pause ")
		require.True(t, ok, calls)
		assert.Equal(t, "resume "+node, calls[i+1])
	}
	assert.Empty(t, c.Paused, "nothing stays frozen after the heal")

	// The same seed freezes the same nodes in the same order.
	again := stutterFor(t, newFake(5, ""), 1, 2)
	n := min(len(calls), len(again))
	assert.Equal(t, calls[:n], again[:n])
}

func TestStutterHealRetriesAResumeThatFailed(t *testing.T) {
	c := newFake(3, "")
	c.FailAll = true // the first pause and its resume fail: the loop stops
	s := &Stutter{}
	_, err := s.Start(context.Background(), c, rand.New(rand.NewSource(2)))
	require.NoError(t, err)
	// The first pause and its resume are tried (and fail) before the
	// cluster is mended.
	require.Eventually(t, func() bool { return len(c.CallsSoFar()) >= 2 }, time.Minute, 10*time.Millisecond)
	c.SetFailAll(false)
	ev, err := s.Heal(context.Background(), c)
	require.NoError(t, err, "the node left frozen is resumed")
	assert.Contains(t, ev.Description, "stopped early")
	assert.Empty(t, c.Paused)
	_, err = s.Heal(context.Background(), c)
	assert.NoError(t, err, "a second heal does nothing")
}
