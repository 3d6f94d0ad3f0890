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

// runRandomHistory drives concurrent reads and writes on a few keys through
// random coordinators while links are cut at random (whole links, or only
// puts so that writes land on some replicas), and returns the history in
// porcupine's form: failed reads and certainly-failed writes are dropped,
// writes of unknown outcome never return.
func runRandomHistory(t *testing.T, seed uint64, bug string, size int, d time.Duration) []porcupine.Operation {
	c := newCluster(t, size, func(cfg *Config) { cfg.Bug = bug; cfg.RPCTimeout = 300 * time.Millisecond })
	keys := []string{"a", "b", "c"}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // nemesis
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, 1))
		for ctx.Err() == nil {
			c.faults.heal()
			switch rng.IntN(3) {
			case 0: // two sides
				perm := rng.Perm(size)
				cut := 1 + rng.IntN(size-1)
				for _, i := range perm[:cut] {
					for _, j := range perm[cut:] {
						c.faults.drop(c.ids[i], c.ids[j])
						c.faults.drop(c.ids[j], c.ids[i])
					}
				}
			case 1: // lost puts
				for range 1 + rng.IntN(size) {
					c.faults.drop(c.ids[rng.IntN(size)], c.ids[rng.IntN(size)], "put")
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(20+rng.IntN(60)) * time.Millisecond):
			}
		}
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

// TestLinearizableUnderFaults checks random histories of the correct store
// with porcupine.
func TestLinearizableUnderFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("random fault histories take seconds")
	}
	for seed := range uint64(2) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			h := runRandomHistory(t, seed, "", 5, 1500*time.Millisecond)
			require.Greater(t, len(h), 100, "too few operations to mean anything")
			res := porcupine.CheckOperationsTimeout(registers, h, 20*time.Second)
			require.Equal(t, porcupine.Ok, res, "%d operations", len(h))
		})
	}
}

// TestCheckerFindsBugs runs the same random histories with each bug that
// needs no crash or clock fault, and reports how many seeds it took.
func TestCheckerFindsBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("random fault histories take seconds")
	}
	for _, bug := range []string{BugNoWriteBack, BugR1W1, BugSloppyQuorum} {
		t.Run(bug, func(t *testing.T) {
			for seed := range uint64(5) {
				h := runRandomHistory(t, seed, bug, 5, 1500*time.Millisecond)
				res := porcupine.CheckOperationsTimeout(registers, h, 20*time.Second)
				t.Logf("seed %d: %d ops: %s", seed, len(h), res)
				if res == porcupine.Illegal {
					return
				}
			}
			t.Errorf("%s was not caught in 5 seeds", bug)
		})
	}
}
