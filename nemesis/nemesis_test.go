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
	"github.com/gauntlet-dev/gauntlet/harness/harnesstest"
)

// fakeCluster is the in-memory cluster of harnesstest: it records what is
// done to it and keeps the state the faults leave.
type fakeCluster = harnesstest.Cluster

func newFake(n int, leader string) *fakeCluster { return harnesstest.NewCluster(n, leader) }

// noLeader hides the LeaderFinder.
type noLeader struct{ harness.Cluster }

func TestParse(t *testing.T) {
	for spec, want := range map[string][]string{
		"partition,kill":         {"partition", "kill"},
		" Kill , partition,kill": {"kill", "partition"},
		"all":                    Names(),
		"kill,all":               {"kill", "partition", "pause", "clock", "loss", "latency"},
		"none":                   nil,
		"":                       nil,
	} {
		got, err := Parse(spec)
		require.NoError(t, err, spec)
		assert.Equal(t, want, got, spec)
	}
	_, err := Parse("partition,chaos")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"chaos"`)
	assert.Contains(t, err.Error(), "partition, kill, pause, clock, loss, latency")

	for _, n := range Names() {
		nem, err := New(n)
		require.NoError(t, err)
		assert.Equal(t, n, nem.Name())
		require.Len(t, nem.Requires(), 1)
		assert.Equal(t, harness.Fault(n), nem.Requires()[0])
	}
	_, err = New("chaos")
	assert.Error(t, err)
}

// run starts and heals every package for a seed and returns what happened.
func run(t *testing.T, seed int64, c harness.Cluster) []string {
	rng := rand.New(rand.NewSource(seed))
	var out []string
	for round := 0; round < 3; round++ {
		for _, name := range Names() {
			nem, err := New(name)
			require.NoError(t, err)
			ev, err := nem.Start(context.Background(), c, rng)
			require.NoError(t, err)
			out = append(out, fmt.Sprintf("%s %v", ev.Description, ev.Nodes))
			ev, err = nem.Heal(context.Background(), c)
			require.NoError(t, err)
			out = append(out, fmt.Sprintf("%s %v", ev.Description, ev.Nodes))
		}
	}
	return out
}

func TestDeterministicForASeed(t *testing.T) {
	a, b := newFake(5, "n3"), newFake(5, "n3")
	for seed := int64(1); seed <= 20; seed++ {
		da, db := run(t, seed, a), run(t, seed, b)
		assert.Equal(t, da, db, "seed %d", seed)
	}
	// The same calls; a kill of many nodes makes them at once, in any order.
	assert.ElementsMatch(t, a.Calls, b.Calls)
	assert.NotEqual(t, run(t, 1, a), run(t, 2, a), "different seeds, different faults")

	// Whether a leader is known changes the target, never the later draws.
	withL, without := newFake(5, "n3"), newFake(5, "")
	for seed := int64(1); seed <= 20; seed++ {
		x, y := run(t, seed, withL), run(t, seed, without)
		require.Len(t, y, len(x))
		for i := range x {
			// The fault kinds drawn (shape, count, scope) stay aligned.
			assert.Equal(t, strings.Fields(x[i])[0], strings.Fields(y[i])[0], "seed %d step %d", seed, i)
		}
	}
}

func hears(g harness.Grudge, nodes []string, x string) []string {
	var h []string
	for _, y := range nodes {
		if !slices.Contains(g[x], y) {
			h = append(h, y)
		}
	}
	return h
}

func TestPartitionShapes(t *testing.T) {
	seen := map[string]bool{}
	for seed := int64(0); seed < 200; seed++ {
		c := newFake(5, "n4")
		p := &Partition{}
		ev, err := p.Start(context.Background(), c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		shape := strings.Fields(ev.Description)[0]
		seen[shape] = true
		g := c.Grudge
		switch shape {
		case ShapeHalves:
			sizes := map[int]int{}
			for _, n := range c.Nodes() {
				sizes[len(hears(g, c.Nodes(), n))]++
			}
			assert.Equal(t, map[int]int{2: 2, 3: 3}, sizes, ev.Description)
		case ShapeIsolate:
			alone := strings.Fields(ev.Description)[1]
			assert.Equal(t, []string{alone}, hears(g, c.Nodes(), alone))
		case ShapeLeader:
			assert.Equal(t, []string{"n4"}, hears(g, c.Nodes(), "n4"), ev.Description)
		case ShapeRing:
			views := map[string]bool{}
			for _, n := range c.Nodes() {
				h := hears(g, c.Nodes(), n)
				assert.Len(t, h, 3, "%s hears a bare majority", n)
				assert.Contains(t, h, n)
				views[strings.Join(h, ",")] = true
			}
			assert.Len(t, views, 5, "no two nodes hear the same majority: %s", ev.Description)
		case ShapeBridge:
			bridge := strings.Fields(ev.Description)[1]
			assert.Len(t, hears(g, c.Nodes(), bridge), 5, "the bridge hears everyone")
			for _, n := range c.Nodes() {
				if n != bridge {
					assert.Len(t, hears(g, c.Nodes(), n), 3, "%s hears its side and the bridge", n)
				}
			}
		default:
			t.Fatalf("unknown shape in %q", ev.Description)
		}
		// Grudges here are symmetric except the ring's.
		_, err = p.Heal(context.Background(), c)
		require.NoError(t, err)
		assert.Nil(t, c.Grudge)
	}
	assert.Len(t, seen, 5, "every shape is drawn: %v", seen)

	// On 3 nodes no ring is drawn (it would be one-way cuts that TCP turns
	// into a full cut); every grudge is symmetric.
	for seed := int64(0); seed < 100; seed++ {
		c := newFake(3, "n1")
		ev, err := (&Partition{}).Start(context.Background(), c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.NotContains(t, ev.Description, ShapeRing)
		for a, bs := range c.Grudge {
			for _, b := range bs {
				assert.Contains(t, c.Grudge[b], a, "%s drops %s but not the reverse: %s", a, b, ev.Description)
			}
		}
	}

	// Without a leader finder, isolate-leader says what it did instead.
	for seed := int64(0); seed < 50; seed++ {
		c := newFake(5, "")
		ev, err := (&Partition{}).Start(context.Background(), noLeader{c}, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		if strings.HasPrefix(ev.Description, ShapeLeader) {
			assert.Contains(t, ev.Description, "cannot tell its leader")
			return
		}
	}
	t.Fatal("no isolate-leader drawn")
}

// leaderlessSystem is a cluster whose system has no leader to name.
type leaderlessSystem struct{ *fakeCluster }

func (leaderlessSystem) Leader(context.Context) (string, error) {
	return "", fmt.Errorf("quorum does not report a leader: %w", harness.ErrUnsupported)
}

func TestPartitionOnALeaderlessSystemNamesAPlainIsolation(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		c := newFake(5, "")
		ev, err := (&Partition{}).Start(context.Background(), leaderlessSystem{c}, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.NotContains(t, ev.Description, ShapeLeader, "no leader to aim at")
		if strings.Contains(ev.Description, "names no leader") {
			alone := strings.Fields(ev.Description)[1]
			assert.True(t, strings.HasPrefix(ev.Description, ShapeIsolate+" "), ev.Description)
			assert.Equal(t, []string{alone}, hears(c.Grudge, c.Nodes(), alone))
			return
		}
	}
	t.Fatal("the leader shape was never drawn")
}

func TestKillPauseHeal(t *testing.T) {
	c := newFake(5, "n2")
	k := &Kill{}
	ctx := context.Background()
	killed := map[string]bool{}
	majorities := 0
	for seed := int64(0); seed < 30; seed++ {
		ev, err := k.Start(ctx, c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		if strings.HasPrefix(ev.Description, "kill majority") || strings.HasPrefix(ev.Description, "kill all") {
			majorities++
			assert.GreaterOrEqual(t, len(ev.Nodes), 3, "a majority of 5")
			assert.Equal(t, len(ev.Nodes) == 5, strings.HasPrefix(ev.Description, "kill all"), ev.Description)
			assert.Len(t, c.Down, len(ev.Nodes), "distinct nodes")
			for _, n := range ev.Nodes {
				assert.True(t, c.Down[n], "%s killed", n)
			}
		} else {
			require.Len(t, ev.Nodes, 1)
			assert.True(t, c.Down[ev.Nodes[0]])
			killed[ev.Nodes[0]] = true
		}
		if strings.Contains(ev.Description, "leader") {
			assert.Equal(t, "kill leader n2", ev.Description)
		}
		ev, err = k.Heal(ctx, c)
		require.NoError(t, err)
		assert.Empty(t, c.Down, "heal restarts every killed node")
	}
	assert.Greater(t, len(killed), 2, "random nodes too, not only the leader")
	assert.Positive(t, majorities, "sometimes a majority or more at once")
	assert.Less(t, majorities, 20, "mostly one node")

	// A failed heal keeps the node for the next heal.
	_, err := k.Start(ctx, c, rand.New(rand.NewSource(1)))
	require.NoError(t, err)
	c.FailAll = true
	_, err = k.Heal(ctx, c)
	require.Error(t, err)
	c.FailAll = false
	ev, err := k.Heal(ctx, c)
	require.NoError(t, err)
	assert.Len(t, ev.Nodes, 1)
	ev, err = k.Heal(ctx, c)
	require.NoError(t, err, "heal with nothing active is fine")
	assert.Empty(t, ev.Nodes)

	p := &Pause{}
	ev, err = p.Start(ctx, c, rand.New(rand.NewSource(3)))
	require.NoError(t, err)
	assert.True(t, c.Paused[ev.Nodes[0]])
	_, err = p.Heal(ctx, c)
	require.NoError(t, err)
	assert.Empty(t, c.Paused)
}

func TestClock(t *testing.T) {
	ctx := context.Background()
	for seed := int64(0); seed < 50; seed++ {
		c := newFake(5, "")
		k := &Clock{}
		ev, err := k.Start(ctx, c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		require.NotEmpty(t, ev.Nodes)
		assert.Len(t, c.Clocks, len(ev.Nodes))
		for n, d := range c.Clocks {
			assert.Contains(t, ev.Description, n)
			abs := max(d, -d)
			assert.GreaterOrEqual(t, abs, 100*time.Millisecond)
			assert.LessOrEqual(t, abs, 10*time.Second)
		}
		_, err = k.Heal(ctx, c)
		require.NoError(t, err)
		for n, d := range c.Clocks {
			assert.Zero(t, d, "%s reset", n)
		}
	}
}

func TestLinkFaults(t *testing.T) {
	ctx := context.Background()
	scopes := map[bool]bool{}
	for seed := int64(0); seed < 30; seed++ {
		c := newFake(5, "")
		l := &Loss{}
		ev, err := l.Start(ctx, c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, c.Link.Loss, 0.1)
		assert.LessOrEqual(t, c.Link.Loss, 0.5)
		scopes[c.Link.Links == nil] = true
		if c.Link.Links != nil {
			n := ev.Nodes[0]
			assert.Len(t, c.Link.Links[n], 4, "every link from %s", n)
			for _, x := range c.Nodes() {
				if x != n {
					assert.Equal(t, []string{n}, c.Link.Links[x], "and to %s", n)
				}
			}
		}
		_, err = l.Heal(ctx, c)
		require.NoError(t, err)
		assert.Zero(t, c.Link.Loss)

		lat := &Latency{}
		_, err = lat.Start(ctx, c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.GreaterOrEqual(t, c.Link.Latency, 20*time.Millisecond)
		assert.LessOrEqual(t, c.Link.Latency, 300*time.Millisecond)
		assert.LessOrEqual(t, c.Link.Jitter, c.Link.Latency/2)
	}
	assert.Len(t, scopes, 2, "both scopes drawn")
}

func TestPauseLeaderAlwaysAimsAtTheLeader(t *testing.T) {
	names, err := Parse("pause-leader")
	require.NoError(t, err)
	assert.Equal(t, []string{"pause-leader"}, names)
	all, err := Parse("all")
	require.NoError(t, err)
	assert.NotContains(t, all, "pause-leader", "targeted packages are not part of all")
	for seed := int64(0); seed < 20; seed++ {
		c := newFake(5, "n4")
		n, err := New("pause-leader")
		require.NoError(t, err)
		assert.Equal(t, "pause-leader", n.Name())
		ev, err := n.Start(context.Background(), c, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.Equal(t, "pause leader n4", ev.Description)
		_, err = n.Heal(context.Background(), c)
		require.NoError(t, err)
	}
}

func TestKillAndPauseOnALeaderlessSystemSayNothingOfALeader(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		c := newFake(5, "")
		ev, err := (&Pause{}).Start(context.Background(), leaderlessSystem{c}, rand.New(rand.NewSource(seed)))
		require.NoError(t, err)
		assert.Regexp(t, `^pause n\d$`, ev.Description)
	}
}
