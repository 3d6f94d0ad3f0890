package workloads

import (
	"context"
	"math/rand"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// lockSim drives the lock workload's generator against an in-memory lock
// with tokens, as the runner would (one op at a time per process, info
// gives the worker a new process), and returns the history.
func lockSim(t *testing.T, w harness.Workload, seed int64, steps int, lose bool) harness.History {
	rng := rand.New(rand.NewSource(seed))
	g := w.Generator(rand.New(rand.NewSource(seed)))
	obs := g.(harness.Observer)
	holder := map[string]harness.Process{}
	token := 0
	var h harness.History
	procs := []harness.Process{0, 1, 2, 3}
	now := int64(0)
	rec := func(op harness.Op) harness.Op {
		now += 1e6
		op.Index, op.Time = len(h), now
		h = append(h, op)
		return op
	}
	for range steps {
		i := rng.Intn(len(procs))
		p := procs[i]
		inv := g.Next(p)
		inv.Process, inv.Type = p, harness.Invoke
		inv = rec(inv)
		done := inv.Complete(harness.OK)
		switch inv.F {
		case harness.FAcquire:
			if _, held := holder[inv.Key]; held {
				done.Type = harness.Fail
			} else {
				holder[inv.Key] = p
				token++
				done.Value = harness.Str(strconv.Itoa(token))
			}
		case mutex.FHold:
			require.Equal(t, p, holder[inv.Key], "guarded work only by the holder")
			require.NotNil(t, inv.Value)
			if lose && rng.Intn(4) == 0 {
				done.Type = harness.Fail // its lease ran out
				delete(holder, inv.Key)
			}
		case harness.FRelease:
			if holder[inv.Key] == p {
				delete(holder, inv.Key)
			} else {
				done.Type = harness.Fail
			}
		}
		done = rec(done)
		obs.Observe(done)
	}
	return h
}

func TestLockWorkload(t *testing.T) {
	w, err := New("lock", Options{})
	require.NoError(t, err)
	assert.Equal(t, []harness.Feature{harness.FeatureLock}, harness.NeedsOf(w))
	assert.Equal(t, 1, w.(Knobbed).Knobs().Keys, "one lock unless asked")
	var names []string
	for _, c := range w.Checkers() {
		names = append(names, c.Name())
	}
	assert.Equal(t, []string{"mutex", "stats"}, names)

	for _, lose := range []bool{false, true} {
		h := lockSim(t, w, 7, 3000, lose)
		fs := map[string]int{}
		for _, op := range h {
			if op.Type == harness.Invoke {
				fs[op.F]++
				assert.Equal(t, "lock0", op.Key)
			}
		}
		assert.Greater(t, fs["acquire"], 100)
		assert.Greater(t, fs["hold"], 100)
		assert.Greater(t, fs["release"], 100)
		r := mutex.New(0).Check(context.Background(), harness.CheckInput{History: h})
		assert.Equal(t, harness.Valid, r.Validity, "a correct lock's history: %s", r.Summary)
	}
}

func TestLockWorkloadKnobs(t *testing.T) {
	w, err := New("lock", Options{Keys: 3})
	require.NoError(t, err)
	h := lockSim(t, w, 3, 2000, false)
	keys := map[string]bool{}
	for _, op := range h {
		keys[op.Key] = true
	}
	assert.Equal(t, map[string]bool{"lock0": true, "lock1": true, "lock2": true}, keys)
	assert.Empty(t, w.Generator(rand.New(rand.NewSource(1))).Keys(), "no recovery reads of locks")

	_, err = New("lock", Options{Accounts: 4})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "workload lock has no use for --accounts")
}
