package quorum

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

func TestMergeIsAJoin(t *testing.T) {
	k := setPrefix + "s"
	a, b, c := encodeSet([]string{"2", "1"}), encodeSet([]string{"3", "1"}), encodeSet([]string{"4"})
	assert.Equal(t, []string{"1", "2"}, decodeSet(a), "sorted, canonical")
	ab := mergeValues(k, a, b)
	assert.Equal(t, []string{"1", "2", "3"}, decodeSet(ab))
	assert.Equal(t, ab, mergeValues(k, b, a), "commutative")
	assert.Equal(t, mergeValues(k, ab, c), mergeValues(k, a, mergeValues(k, b, c)), "associative")
	assert.Equal(t, ab, mergeValues(k, ab, ab), "idempotent")
	assert.Equal(t, a, mergeValues(k, "", a))

	ck := counterPrefix + "c"
	x := encodeCounter(pnCounter{"n1": {Seq: 2, P: 5, N: 1, IDs: []string{"a", "b"}}})
	y := encodeCounter(pnCounter{"n1": {Seq: 1, P: 5}, "n2": {Seq: 1, N: 3, IDs: []string{"c"}}})
	xy := mergeValues(ck, x, y)
	assert.Equal(t, xy, mergeValues(ck, y, x))
	assert.Equal(t, xy, mergeValues(ck, xy, x))
	got := decodeCounter(xy)
	assert.Equal(t, pnEntry{Seq: 2, P: 5, N: 1, IDs: []string{"a", "b"}}, got["n1"], "the higher sequence wins")
	assert.Equal(t, int64(5-1-3), got.value())
	assert.Equal(t, xy, encodeCounter(got), "round trip")
}

func openReplica(t *testing.T, path string) (*replica, *wal) {
	t.Helper()
	w, live, err := openWAL(env.OS(), path, false, 0, func(string, ...any) {})
	require.NoError(t, err)
	return newReplica(w, live, false), w
}

// A replica merges states in any order, makes increments once per id, and
// replays its log to the same state (records merge in any order).
func TestReplicaMergesAndReplays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quorum.log")
	r, w := openReplica(t, path)
	sk, ck := setPrefix+"s", counterPrefix+"c"
	require.NoError(t, r.put(entry{Key: sk, Value: encodeSet([]string{"b"})}))
	require.NoError(t, r.put(entry{Key: sk, Value: encodeSet([]string{"a"})}))
	require.NoError(t, r.put(entry{Key: sk, Value: encodeSet([]string{"a"})}))
	_, err := r.incr(ck, "n1", 5, "id-1")
	require.NoError(t, err)
	v, err := r.incr(ck, "n1", 5, "id-1")
	require.NoError(t, err)
	assert.Equal(t, int64(5), decodeCounter(v).value(), "a retried id is applied once")
	_, err = r.incr(ck, "n1", -2, "id-2")
	require.NoError(t, err)
	require.NoError(t, r.put(entry{Key: ck, Value: encodeCounter(pnCounter{"n2": {Seq: 1, P: 10}})}))
	require.NoError(t, r.put(entry{Key: "reg", Value: "v", Ver: Version{Counter: 1, Node: "n1"}}))
	before := r.snapshot()
	require.NoError(t, w.close())

	r2, w2 := openReplica(t, path)
	defer w2.close()
	assert.Equal(t, before, r2.snapshot())
	got, _ := r2.get(sk)
	assert.Equal(t, []string{"a", "b"}, decodeSet(got.Value))
	got, _ = r2.get(ck)
	assert.Equal(t, int64(13), decodeCounter(got.Value).value())
	v, err = r2.incr(ck, "n1", 5, "id-1")
	require.NoError(t, err)
	assert.Equal(t, int64(13), decodeCounter(v).value(), "the ids survive a restart")
}

func TestQuorumSetsAndCounters(t *testing.T) {
	c := newCluster(t, 3, nil)
	x := ctx(t)
	require.NoError(t, c.s("n1").SetAdd(x, "s", "1"))
	require.NoError(t, c.s("n2").SetAdd(x, "s", "2"))
	c.faults.isolate("n3", "n1", "n2")
	require.NoError(t, c.s("n1").SetAdd(x, "s", "3"), "a majority suffices")
	for _, id := range []string{"n1", "n2"} {
		got, err := c.s(id).SetRead(x, "s")
		require.NoError(t, err)
		assert.Equal(t, []string{"1", "2", "3"}, got, id)
	}
	_, err := c.s("n3").SetRead(x, "s")
	assert.ErrorIs(t, err, api.ErrNotApplied, "a minority cannot read")
	c.faults.heal()

	for i, id := range []string{"n1", "n2", "n3", "n1"} {
		require.NoError(t, c.s(id).CounterAdd(x, "c", int64(i+1), "r"+string(rune('a'+i))))
	}
	require.NoError(t, c.s("n2").CounterAdd(x, "c", -4, ""))
	require.NoError(t, c.s("n3").CounterAdd(x, "c", 1, "ra"), "a retry through another coordinator")
	for _, id := range []string{"n1", "n2", "n3"} {
		v, err := c.s(id).CounterRead(x, "c")
		require.NoError(t, err)
		assert.Equal(t, int64(1+2+3+4-4), v, id)
	}

	// After anti-entropy every replica holds the same state.
	for _, id := range []string{"n1", "n2", "n3"} {
		_, err := c.s(id).Repair(x)
		require.NoError(t, err)
	}
	vals := map[string]map[string]bool{}
	for _, id := range []string{"n1", "n2", "n3"} {
		for k, h := range c.s(id).Digest(true).Values {
			if vals[k] == nil {
				vals[k] = map[string]bool{}
			}
			vals[k][h] = true
		}
	}
	require.Len(t, vals, 2)
	for k, hs := range vals {
		assert.Len(t, hs, 1, "replicas of %q agree", k)
	}
}

// The increments of an id are made by one replica: while it is cut off,
// adds of that id fail, and a retry after the heal counts once.
func TestCounterAddNeedsItsReplica(t *testing.T) {
	c := newCluster(t, 3, nil)
	x := ctx(t)
	k := counterPrefix + "c"
	var id, by string
	for i := 0; by != "n3"; i++ {
		id = "id" + string(rune('a'+i))
		reps := c.s("n1").Replicas(k)
		by = reps[idIndex(id, len(reps))]
	}
	c.faults.isolate("n3", "n1", "n2")
	assert.Error(t, c.s("n1").CounterAdd(x, "c", 1, id))
	c.faults.heal()
	require.NoError(t, c.s("n1").CounterAdd(x, "c", 1, id))
	v, err := c.s("n2").CounterRead(x, "c")
	require.NoError(t, err)
	assert.Equal(t, int64(1), v)
}

// set-lww loses one of two adds that read the same version.
func TestSetLWWBugLosesConcurrentAdds(t *testing.T) {
	c := newCluster(t, 3, func(cfg *Config) { cfg.Bug = BugSetLWW })
	x := ctx(t)
	require.NoError(t, c.s("n1").SetAdd(x, "s", "1"))
	for _, id := range []string{"n1", "n2", "n3"} {
		require.Eventually(t, func() bool { e, _ := c.s(id).rep.get(setPrefix + "s"); return e.Value != "" }, 5*time.Second, 5*time.Millisecond)
	}
	// n2 reads {1} and writes {1,3}, held on the way to n1 and n3; n1,
	// cut off from n2, reads {1} too and writes {1,2}, acknowledged. When
	// n2's write lands, its version (same counter, higher node id) wins.
	c.faults.hold("n2", "n1", "put")
	c.faults.hold("n2", "n3", "put")
	done := make(chan error, 1)
	go func() { done <- c.s("n2").SetAdd(x, "s", "3") }()
	require.Eventually(t, func() bool { return len(decodeSet(c.local("n2", setPrefix+"s"))) == 2 }, 5*time.Second, time.Millisecond)
	c.faults.isolate("n1", "n2")
	require.NoError(t, c.s("n1").SetAdd(x, "s", "2"))
	c.faults.heal() // releases n2's held writes too
	require.NoError(t, <-done)
	got, err := c.s("n3").SetRead(x, "s")
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "3"}, got, "the acknowledged add of 2 was overwritten")
}

// set-repair-overwrites copies one reply over the replicas that differ:
// an element that reached only some replicas is wiped from them. The
// correct repair merges.
func TestSetRepairOverwritesBug(t *testing.T) {
	for _, bug := range []string{"", BugSetRepairOverwrites} {
		c := newCluster(t, 3, func(cfg *Config) { cfg.Bug = bug })
		x := ctx(t)
		k := setPrefix + "s"
		one, two := encodeSet([]string{"1"}), encodeSet([]string{"1", "2"})
		require.NoError(t, c.s("n1").rep.put(entry{Key: k, Value: one}))
		for _, id := range []string{"n2", "n3"} {
			require.NoError(t, c.s(id).rep.put(entry{Key: k, Value: two}))
		}
		if bug == "" {
			got, err := c.s("n1").readCRDT(x, k, true)
			require.NoError(t, err)
			assert.Equal(t, []string{"1", "2"}, decodeSet(got.Value))
			assert.Equal(t, two, c.local("n1", k), "merged back")
			continue
		}
		// n1's own reply came first.
		oks := []reply{{id: "n1", resp: getResp{Found: true, Value: one}}, {id: "n2", resp: getResp{Found: true, Value: two}},
			{id: "n3", resp: getResp{Found: true, Value: two}}}
		got, err := c.s("n1").overwriteRepair(x, k, oks, c.s("n1").Replicas(k), nil, 3)
		require.NoError(t, err)
		assert.Equal(t, one, got.Value)
		for _, id := range []string{"n2", "n3"} {
			assert.Equal(t, one, c.local(id, k), "the acknowledged 2 is wiped from %s", id)
		}
		// The wipe is durable: a restart does not bring 2 back.
		c.crash("n2")
		c.start("n2")
		assert.Equal(t, one, c.local("n2", k))
	}
}
