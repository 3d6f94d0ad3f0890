package quorum

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

func TestRingPlacement(t *testing.T) {
	members := []string{"n1", "n2", "n3", "n4", "n5"}
	r := newRing(members, 64)
	shuffled := newRing([]string{"n4", "n2", "n5", "n1", "n3"}, 64)
	share := map[string]int{}
	const keys = 20000
	for i := range keys {
		k := fmt.Sprintf("key-%d", i)
		p := r.preference(k)
		require.Len(t, p, 5, "the preference list names every member once")
		require.ElementsMatch(t, members, p)
		require.Equal(t, p, shuffled.preference(k), "placement must not depend on member order")
		for _, m := range p[:3] {
			share[m]++
		}
	}
	for _, m := range members {
		frac := float64(share[m]) / keys
		assert.InDelta(t, 0.6, frac, 0.15, "%s replicates %.2f of the keys, want about 3/5", m, frac)
	}
}

func TestResolveQuorums(t *testing.T) {
	peers := func(n int) map[string]string {
		m := map[string]string{}
		for i := 1; i <= n; i++ {
			m[fmt.Sprintf("n%d", i)] = "x"
		}
		return m
	}
	for _, tc := range []struct {
		cfg     Config
		n, r, w int
	}{
		{Config{ID: "n1", Peers: peers(5)}, 3, 2, 2},
		{Config{ID: "n1", Peers: peers(2)}, 2, 2, 2}, // N capped at the cluster size
		{Config{ID: "n1", Peers: peers(5), N: 5}, 5, 3, 3},
		{Config{ID: "n1", Peers: peers(5), Consistency: "one"}, 3, 1, 1},
		{Config{ID: "n1", Peers: peers(5), Consistency: "all"}, 3, 3, 3},
		{Config{ID: "n1", Peers: peers(5), Consistency: "all", R: 1}, 3, 1, 3},
		{Config{ID: "n1", Peers: peers(5), Bug: BugR1W1}, 3, 1, 1},
	} {
		q, err := tc.cfg.resolve()
		require.NoError(t, err)
		assert.Equal(t, quorums{tc.n, tc.r, tc.w}, q, "%+v", tc.cfg)
	}
	_, err := Config{ID: "n1", Peers: peers(3), Consistency: "most"}.resolve()
	require.Error(t, err)
	_, err = Config{ID: "n1", Peers: peers(3), W: 4}.resolve()
	require.Error(t, err)
	_, err = Config{ID: "n1", Peers: peers(3), R: -1}.resolve()
	require.Error(t, err)
}

func TestReadWriteAnyCoordinator(t *testing.T) {
	c := newCluster(t, 5, nil)
	v, err := c.get("n1", "k")
	require.NoError(t, err)
	assert.Equal(t, "<absent>", v)

	for i, id := range c.ids {
		require.NoError(t, c.s(id).Put(ctx(t), "k", fmt.Sprintf("v%d", i)))
		for _, other := range c.ids {
			got, err := c.get(other, "k")
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("v%d", i), got, "read via %s after write via %s", other, id)
		}
	}
	// Only the key's replicas store it.
	reps := c.s("n1").Replicas("k")
	require.Len(t, reps, 3)
	for _, id := range reps {
		c.waitLocal(id, "k", "v4")
	}
	for _, id := range c.ids {
		if !slices.Contains(reps, id) {
			assert.Equal(t, "", c.local(id, "k"), "%s is not a replica of k", id)
		}
	}
}

func TestCAS(t *testing.T) {
	c := newCluster(t, 3, nil)
	res, err := c.s("n1").CAS(ctx(t), "k", "a", "b")
	require.NoError(t, err)
	assert.Equal(t, api.CASResult{OK: false, Found: false}, res)
	require.NoError(t, c.s("n1").Put(ctx(t), "k", "a"))
	res, err = c.s("n2").CAS(ctx(t), "k", "a", "b")
	require.NoError(t, err)
	assert.True(t, res.OK)
	res, err = c.s("n3").CAS(ctx(t), "k", "a", "c")
	require.NoError(t, err)
	assert.Equal(t, api.CASResult{OK: false, Current: "b", Found: true}, res)
	got, err := c.get("n3", "k")
	require.NoError(t, err)
	assert.Equal(t, "b", got)
}

// TestCASIsNotLinearizable shows the documented race on the correct store:
// two CAS from the same value both succeed.
func TestCASIsNotLinearizable(t *testing.T) {
	c := newCluster(t, 3, nil)
	require.NoError(t, c.s("n1").Put(ctx(t), "k", "1"))
	for _, id := range c.ids {
		c.waitLocal(id, "k", "1")
	}
	// cas 1->2 via n1 reads, compares, and its puts to n2 and n3 are held.
	release := []func(){c.faults.hold("n1", "n2", "put"), c.faults.hold("n1", "n3", "put")}
	first := make(chan error, 1)
	var firstRes api.CASResult
	go func() {
		var err error
		firstRes, err = c.s("n1").CAS(ctx(t), "k", "1", "2")
		first <- err
	}()
	c.waitLocal("n1", "k", "2") // its own replica took the put; the quorum is not there yet
	// cas 1->3 via n3, which cannot reach n1, still reads 1 from n2 and n3.
	c.faults.drop("n3", "n1")
	res, err := c.s("n3").CAS(ctx(t), "k", "1", "3")
	require.NoError(t, err)
	require.True(t, res.OK)
	for _, r := range release {
		r()
	}
	require.NoError(t, <-first)
	assert.True(t, firstRes.OK, "both cas 1->2 and cas 1->3 succeeded: no serial order allows that")
}

func TestWriteBack(t *testing.T) {
	for _, bug := range []string{"", BugNoWriteBack} {
		t.Run("bug="+bug, func(t *testing.T) {
			c := newCluster(t, 3, func(cfg *Config) { cfg.Bug = bug })
			require.NoError(t, c.s("n1").Put(ctx(t), "k", "x1"))
			for _, id := range c.ids {
				c.waitLocal(id, "k", "x1")
			}
			// A write of x2 reaches only n1's own replica: outcome unknown.
			c.faults.drop("n1", "n2", "put")
			c.faults.drop("n1", "n3", "put")
			err := c.s("n1").Put(ctx(t), "k", "x2")
			require.ErrorIs(t, err, api.ErrUnknown)
			require.Equal(t, "x2", c.local("n1", "k"))

			// Read 1 via n2 sees {n1, n2} and returns the newest, x2.
			c.faults.drop("n2", "n3")
			r1, err := c.get("n2", "k")
			require.NoError(t, err)
			require.Equal(t, "x2", r1)

			// Read 2, after read 1 completed, via n3 sees {n2, n3}.
			c.faults.drop("n3", "n1")
			r2, err := c.get("n3", "k")
			require.NoError(t, err)
			if bug == BugNoWriteBack {
				// x2 then x1 from two reads in real-time order: linearizability
				// forbids it (the info write of x2 cannot be both before read 1
				// and after read 2).
				assert.Equal(t, "x1", r2, "no-write-back should show the new-old inversion")
				assert.Equal(t, "x1", c.local("n2", "k"))
				return
			}
			assert.Equal(t, "x2", r2)
			assert.Equal(t, "x2", c.local("n2", "k"), "read 1 wrote x2 back to n2")
		})
	}
}

func TestQuorumFailureClassification(t *testing.T) {
	c := newCluster(t, 3, nil)
	require.NoError(t, c.s("n1").Put(ctx(t), "k", "x1"))
	// The put returned once two replicas had it; n1's own may still be on
	// its way (seen on a loaded machine).
	for _, id := range c.ids {
		c.waitLocal(id, "k", "x1")
	}

	// n1 cut off entirely: the version query fails before anything is sent.
	c.faults.isolate("n1", "n2", "n3")
	err := c.s("n1").Put(ctx(t), "k", "x2")
	require.ErrorIs(t, err, api.ErrNotApplied)
	_, err = c.get("n1", "k")
	require.ErrorIs(t, err, api.ErrNotApplied)
	_, err = c.s("n1").CAS(ctx(t), "k", "x1", "x3")
	require.ErrorIs(t, err, api.ErrNotApplied)
	require.Equal(t, "x1", c.local("n1", "k"), "nothing was written")

	// Only puts are lost: the write reached n1's replica, so it is unknown.
	c.faults.heal()
	require.NoError(t, c.s("n1").Put(ctx(t), "j", "y1"))
	for _, id := range c.ids {
		c.waitLocal(id, "j", "y1")
	}
	c.faults.drop("n1", "n2", "put")
	c.faults.drop("n1", "n3", "put")
	err = c.s("n1").Put(ctx(t), "k", "x4")
	require.ErrorIs(t, err, api.ErrUnknown)
	res, err := c.s("n1").CAS(ctx(t), "j", "y1", "y2")
	require.ErrorIs(t, err, api.ErrUnknown, "%+v", res)
	// A read that finds x4 on n1 alone cannot write it back: it fails, and
	// having changed nothing of its own, it is not applied.
	_, err = c.get("n1", "k")
	require.ErrorIs(t, err, api.ErrNotApplied)

	c.faults.heal()
	got, err := c.get("n2", "k")
	require.NoError(t, err)
	assert.Contains(t, []string{"x1", "x4"}, got, "the unknown write may or may not take effect")
	got, err = c.get("n2", "j")
	require.NoError(t, err)
	assert.Contains(t, []string{"y1", "y2"}, got)
}

func TestRestartFromDisk(t *testing.T) {
	c := newCluster(t, 3, nil)
	want := map[string]string{}
	for i := range 50 {
		k, v := fmt.Sprintf("k%d", i%7), fmt.Sprintf("v%d", i)
		require.NoError(t, c.s(c.ids[i%3]).Put(ctx(t), k, v))
		want[k] = v
	}
	for _, id := range c.ids {
		for k := range 7 {
			c.waitLocal(id, fmt.Sprintf("k%d", k), want[fmt.Sprintf("k%d", k)])
		}
	}
	before := map[string]api.Digest{}
	for _, id := range c.ids {
		before[id] = c.s(id).Digest(true)
		c.crash(id)
	}
	for _, id := range c.ids {
		c.start(id)
		assert.Equal(t, before[id].Digest, c.s(id).Digest(true).Digest, "%s after restart", id)
		assert.Equal(t, before[id].Values, c.s(id).Digest(true).Values)
	}
	for k := range 7 {
		got, err := c.get("n2", fmt.Sprintf("k%d", k))
		require.NoError(t, err)
		assert.Equal(t, want[fmt.Sprintf("k%d", k)], got)
	}
	// Versions keep growing after a restart: a new write wins.
	require.NoError(t, c.s("n3").Put(ctx(t), "k0", "after"))
	got, err := c.get("n1", "k0")
	require.NoError(t, err)
	assert.Equal(t, "after", got)
}

func TestTornTailAndCorruption(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "quorum.log")
	var good []byte
	for i := range 3 {
		good = encodeRecord(good, entry{Key: fmt.Sprintf("k%d", i), Value: "v", Ver: Version{Counter: 1, Node: "n1"}})
	}
	last := encodeRecord(nil, entry{Key: "k3", Value: "lost", Ver: Version{Counter: 1, Node: "n1"}})
	open := func() (*Store, error) {
		return Open(Config{ID: "n1", DataDir: dir})
	}

	for name, data := range map[string][]byte{
		"short header":      append(slices.Clone(good), last[:5]...),
		"short payload":     append(slices.Clone(good), last[:len(last)-2]...),
		"zeros":             append(slices.Clone(good), make([]byte, 100)...),
		"bad last checksum": append(slices.Clone(good), append(slices.Clone(last[:len(last)-1]), last[len(last)-1]^0xff)...),
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, data, 0o644))
			s, err := open()
			require.NoError(t, err)
			assert.Equal(t, 3, s.Digest(false).Keys)
			require.NoError(t, s.Put(ctx(t), "k9", "new"))
			require.NoError(t, s.Close())
			s, err = open()
			require.NoError(t, err, "the repaired log accepts appends and replays")
			v, _, _ := s.Get(ctx(t), "k9", false)
			assert.Equal(t, "new", v)
			assert.Equal(t, 4, s.Digest(false).Keys)
			require.NoError(t, s.Close())
		})
	}

	t.Run("mid-log corruption", func(t *testing.T) {
		data := slices.Clone(good)
		data[headerSize+2] ^= 0x01 // inside the first record's payload
		require.NoError(t, os.WriteFile(path, data, 0o644))
		_, err := open()
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "offset 0")
		after, _ := os.ReadFile(path)
		assert.Equal(t, data, after, "a refused log is left as it was")
	})

	t.Run("mid-log length pointing past the end", func(t *testing.T) {
		data := slices.Clone(good)
		data[1] = 0x7f // the first record's length (LE) now runs past the end of the file
		require.NoError(t, os.WriteFile(path, data, 0o644))
		_, err := open()
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "a valid record follows")
	})
}

func TestRepairConverges(t *testing.T) {
	c := newCluster(t, 5, nil)
	var keys []string
	for i := range 30 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	// Writes under a partition reach only some replicas.
	c.faults.isolate("n1", "n2", "n3", "n4", "n5")
	c.faults.drop("n2", "n3", "put")
	for i, k := range keys {
		_ = c.s(c.ids[i%5]).Put(ctx(t), k, "v-"+k)
	}
	c.faults.heal()
	diverged := func() int {
		n := 0
		for _, k := range keys {
			vals := map[string]bool{}
			for _, id := range c.s("n1").Replicas(k) {
				vals[c.s(id).Digest(true).Values[k]] = true
			}
			if len(vals) > 1 {
				n++
			}
		}
		return n
	}
	require.Positive(t, diverged(), "the partition should have left some replicas behind")
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, id := range c.ids {
		res, err := RepairAt(ctx(t), hc, c.addr(id))
		require.NoError(t, err)
		require.Equal(t, res.Keys, res.Repaired)
	}
	assert.Zero(t, diverged())

	// With a node down, the keys it replicates fail fast and the rest repair.
	c.crash("n5")
	t0 := time.Now()
	res, err := RepairAt(ctx(t), hc, c.addr("n1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "replica n5 is unreachable")
	assert.Positive(t, res.Failed)
	assert.Positive(t, res.Repaired)
	assert.Equal(t, res.Keys, res.Failed+res.Repaired)
	assert.Less(t, time.Since(t0), 3*time.Second)
}

func TestR1W1LosesCompletedWrites(t *testing.T) {
	for _, bug := range []string{"", BugR1W1} {
		t.Run("bug="+bug, func(t *testing.T) {
			c := newCluster(t, 3, func(cfg *Config) { cfg.Bug = bug })
			c.faults.isolate("n1", "n2", "n3")
			err := c.s("n1").Put(ctx(t), "k", "x1")
			if bug == "" {
				require.ErrorIs(t, err, api.ErrNotApplied, "a majority is out of reach")
				return
			}
			require.NoError(t, err, "r1w1 acknowledges a write only n1 holds")
			got, err := c.get("n2", "k")
			require.NoError(t, err)
			assert.Equal(t, "<absent>", got, "a read after the completed write misses it: not linearizable")
		})
	}
}

func TestSloppyQuorum(t *testing.T) {
	for _, bug := range []string{"", BugSloppyQuorum} {
		t.Run("bug="+bug, func(t *testing.T) {
			c := newCluster(t, 5, func(cfg *Config) { cfg.Bug = bug })
			// A key none of whose replicas is n1 or n2.
			var key string
			for i := 0; key == ""; i++ {
				k := fmt.Sprintf("k%d", i)
				if r := c.s("n1").Replicas(k); !slices.Contains(r, "n1") && !slices.Contains(r, "n2") {
					key = k
				}
			}
			require.NoError(t, c.s("n3").Put(ctx(t), key, "x1"))
			for _, a := range []string{"n1", "n2"} {
				c.faults.isolate(a, "n3", "n4", "n5")
			}
			err := c.s("n1").Put(ctx(t), key, "x2")
			if bug == "" {
				require.ErrorIs(t, err, api.ErrNotApplied)
				return
			}
			require.NoError(t, err, "the minority side counted itself as a quorum")
			got, err := c.get("n4", key)
			require.NoError(t, err)
			assert.Equal(t, "x1", got, "the majority side never saw the completed write")
		})
	}
}

func TestLWWWallClock(t *testing.T) {
	for _, bug := range []string{"", BugLWWWallClock} {
		t.Run("bug="+bug, func(t *testing.T) {
			clocks := map[string]*clock.Skewable{}
			c := newCluster(t, 3, func(cfg *Config) {
				cfg.Bug = bug
				clocks[cfg.ID] = clock.NewReal()
				cfg.Clock = clocks[cfg.ID]
			})
			clocks["n1"].SetOffset(-time.Minute)
			require.NoError(t, c.s("n2").Put(ctx(t), "k", "x1"))
			require.NoError(t, c.s("n1").Put(ctx(t), "k", "x2"))
			got, err := c.get("n3", "k")
			require.NoError(t, err)
			if bug == "" {
				assert.Equal(t, "x2", got)
				return
			}
			assert.Equal(t, "x1", got, "the later write, stamped by a slow clock, lost to the earlier one")
			assert.Equal(t, int64(-60000), c.s("n1").Status().ClockOffset)
		})
	}
}

func TestAckBeforeFsync(t *testing.T) {
	for _, bug := range []string{"", BugAckBeforeFsync} {
		t.Run("bug="+bug, func(t *testing.T) {
			c := newCluster(t, 3, func(cfg *Config) {
				cfg.Bug = bug
				cfg.FlushInterval = time.Hour // the crash lands inside the window
			})
			require.NoError(t, c.s("n1").Put(ctx(t), "k", "x1"))
			for _, id := range c.ids {
				c.waitLocal(id, "k", "x1")
				c.crash(id)
			}
			for _, id := range c.ids {
				c.start(id)
			}
			got, err := c.get("n2", "k")
			require.NoError(t, err)
			if bug == "" {
				assert.Equal(t, "x1", got)
				return
			}
			assert.Equal(t, "<absent>", got, "the acknowledged write died in user-space buffers")
		})
	}
}

func TestBugsCatalog(t *testing.T) {
	names := map[string]bool{}
	for _, b := range Bugs() {
		assert.NotEmpty(t, b.Description)
		assert.NotEmpty(t, b.Workload)
		assert.NotEmpty(t, b.Nemesis)
		names[b.Name] = true
	}
	for _, n := range []string{BugNoWriteBack, BugSloppyQuorum, BugLWWWallClock, BugR1W1, BugAckBeforeFsync} {
		assert.True(t, names[n], n)
	}
	_, err := Open(Config{ID: "n1", DataDir: t.TempDir(), Bug: "nope"})
	require.Error(t, err)
}

func TestStatus(t *testing.T) {
	s, err := Open(Config{ID: "n1", DataDir: t.TempDir(), Bug: BugNoWriteBack})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	st := s.Status()
	assert.Equal(t, "quorum", st.Mode)
	assert.Equal(t, "replica", st.Role)
	assert.Equal(t, BugNoWriteBack, st.Bug)
	_ = context.Background
}
