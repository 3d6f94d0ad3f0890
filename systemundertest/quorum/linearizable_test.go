package quorum

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

type regInput struct {
	write bool
	key   string
	value string
}

type regOutput struct {
	value string // "" = absent
}

// registers is a map of independent registers, checked key by key.
var registers = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, in, out any) (bool, any) {
		i := in.(regInput)
		if i.write {
			return true, i.value
		}
		return out.(regOutput).value == state.(string), state
	},
}

// Fault kinds the random nemesis may use.
const (
	faultPartition = "partition" // two sides, or lost puts on random links
	faultCrash     = "crash"     // crash a majority at once (SIGKILL-like), restart from disk
	faultClock     = "clock"     // skew every node's clock by up to ±2s
)

// runRandomHistory drives concurrent reads and writes on a few keys through
// random coordinators while a seeded nemesis injects faults, and returns the
// history in porcupine's form: failed reads and certainly-failed writes are
// dropped, writes of unknown outcome never return.
func runRandomHistory(t *testing.T, seed uint64, bug string, size int, d time.Duration, kinds ...string) []porcupine.Operation {
	clocks := map[string]*clock.Skewable{}
	c := newCluster(t, size, func(cfg *Config) {
		cfg.Bug = bug
		cfg.RPCTimeout = 300 * time.Millisecond
		clocks[cfg.ID] = clock.NewReal()
		cfg.Clock = clocks[cfg.ID]
	})
	keys := []string{"a", "b", "c"}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		randomFaults(ctx, t, c, clocks, seed, kinds)
	}()

	var mu sync.Mutex
	var hist []porcupine.Operation
	for p := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(p)+2))
			for n := 0; ctx.Err() == nil; n++ {
				coord := c.s(c.ids[rng.IntN(size)])
				if coord == nil { // crashed
					time.Sleep(time.Millisecond)
					continue
				}
				in := regInput{write: rng.IntN(2) == 0, key: keys[rng.IntN(len(keys))], value: fmt.Sprintf("p%d-%d", p, n)}
				op := porcupine.Operation{ClientId: p, Input: in, Call: now()}
				opCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if in.write {
					err := coord.Put(opCtx, in.key, in.value)
					op.Return = now()
					switch {
					case errors.Is(err, api.ErrNotApplied):
						cancel()
						continue
					case err != nil:
						op.Return = math.MaxInt64
					}
				} else {
					v, _, err := coord.Get(opCtx, in.key, false)
					op.Return = now()
					if err != nil {
						cancel()
						continue
					}
					op.Output = regOutput{value: v}
				}
				cancel()
				mu.Lock()
				hist = append(hist, op)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return hist
}

// randomFaults injects faults of the given kinds, drawn from seed, until
// ctx ends: partitions (halves or single links), crashes of a majority
// with a restart from disk, clock offsets.
func randomFaults(ctx context.Context, t *testing.T, c *cluster, clocks map[string]*clock.Skewable, seed uint64, kinds []string) {
	size := len(c.ids)
	rng := rand.New(rand.NewPCG(seed, 1))
	pause := func() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(20+rng.IntN(60)) * time.Millisecond):
		}
	}
	for ctx.Err() == nil {
		c.faults.heal()
		switch kinds[rng.IntN(len(kinds))] {
		case faultPartition:
			if rng.IntN(2) == 0 {
				perm := rng.Perm(size)
				cut := 1 + rng.IntN(size-1)
				for _, i := range perm[:cut] {
					for _, j := range perm[cut:] {
						c.faults.drop(c.ids[i], c.ids[j])
						c.faults.drop(c.ids[j], c.ids[i])
					}
				}
			} else {
				for range 1 + rng.IntN(size) {
					c.faults.drop(c.ids[rng.IntN(size)], c.ids[rng.IntN(size)], "put")
				}
			}
			pause()
		case faultCrash:
			victims := rng.Perm(size)[:size/2+1]
			for _, i := range victims {
				c.crash(c.ids[i])
			}
			pause()
			for _, i := range victims {
				n := c.nodes[c.ids[i]]
				s, err := Open(n.cfg)
				if err != nil {
					t.Errorf("restart %s: %v", n.id, err)
					return
				}
				h := api.NewServer(s, api.ServerOptions{Internal: s.Handler()})
				n.store.Store(s)
				n.api.Store(&h)
			}
			pause()
		case faultClock:
			for _, id := range c.ids {
				clocks[id].SetOffset(time.Duration(rng.IntN(4000)-2000) * time.Millisecond)
			}
			pause()
		}
	}
}

// TestLinearizableUnderFaults checks random histories of the correct store
// with porcupine, under every kind of fault.
func TestLinearizableUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("random fault histories take seconds")
	}
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			h := runRandomHistory(t, seed, "", 5, 1500*time.Millisecond, faultPartition, faultCrash, faultClock)
			require.Greater(t, len(h), 100, "too few operations to mean anything")
			res := porcupine.CheckOperationsTimeout(registers, h, 20*time.Second)
			require.Equal(t, porcupine.Ok, res, "%d operations", len(h))
		})
	}
}

// TestCheckerFindsBugs runs the same random histories with each bug and the
// faults its catalog entry names, and reports how many seeds it took.
func TestCheckerFindsBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("random fault histories take seconds")
	}
	for _, tc := range []struct {
		bug    string
		faults []string
	}{
		{BugNoWriteBack, []string{faultPartition}},
		{BugR1W1, []string{faultPartition}},
		{BugSloppyQuorum, []string{faultPartition}},
		{BugLWWWallClock, []string{faultClock}},
		{BugAckBeforeFsync, []string{faultCrash}},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			for seed := range uint64(5) {
				h := runRandomHistory(t, seed, tc.bug, 5, 1500*time.Millisecond, tc.faults...)
				res := porcupine.CheckOperationsTimeout(registers, h, 20*time.Second)
				t.Logf("seed %d: %d ops: %s", seed, len(h), res)
				if res == porcupine.Illegal {
					return
				}
			}
			t.Errorf("%s was not caught in 5 seeds", tc.bug)
		})
	}
}
