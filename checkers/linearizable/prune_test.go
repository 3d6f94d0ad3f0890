package linearizable

import (
	"context"
	"encoding/json"
	"math/rand"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	h "github.com/gauntlet-dev/gauntlet/harness"
	"github.com/stretchr/testify/require"
)

// Pruning and bounding info ops never change a key's verdict: random
// histories with many info ops (a quarter), half of them cas, few distinct
// values in a third of the seeds, and some corrupted reads, judged by
// porcupine on every op and by Check on what it keeps (chains decide the
// seeds with unique values). Some reads and cas are corrupted.
func TestPruningKeepsVerdicts(t *testing.T) {
	checked, diff, nbad, pruned := 0, 0, 0, 0
	for seed := int64(0); seed < 600; seed++ {
		rng := rand.New(rand.NewSource(seed))
		hh := simulateMix(rng, 6, 3, 40, 240, 0.25, []int{0, 3, 5}[seed%3], 0.5)
		var written []string
		for i, op := range hh {
			if op.Value != nil && op.Type == h.Invoke {
				written = append(written, *op.Value)
			}
			if op.F == h.FRead && op.Type == h.OK && rng.Intn(15) == 0 && len(written) > 0 {
				hh[i].Value = h.Str(written[rng.Intn(len(written))])
			}
			if op.F == h.FCAS && op.Type == h.Invoke && rng.Intn(30) == 0 && len(written) > 0 {
				hh[i].From = h.Str(written[rng.Intn(len(written))]) // a cas from another recent value
			}
		}
		keys, _ := split(hh, Options{NoPrune: true})
		m := model(nil, nil)
		illegal := map[string]bool{}
		for _, kh := range keys {
			res := porcupine.CheckOperationsTimeout(m, kh.ops, 10*time.Second)
			require.NotEqual(t, porcupine.Unknown, res)
			illegal[kh.key] = res == porcupine.Illegal
		}
		r := Check(context.Background(), hh, Options{})
		var d Details
		require.NoError(t, json.Unmarshal(r.Details, &d))
		pruned += d.Pruned
		got := map[string]bool{}
		for _, kd := range d.Invalid {
			got[kd.Key] = true
		}
		for k, bad := range illegal {
			checked++
			if bad {
				nbad++
			}
			if bad != got[k] {
				diff++
				t.Errorf("seed %d key %s: noprune illegal=%v pruned invalid=%v", seed, k, bad, got[k])
			}
		}
	}
	t.Logf("%d keys compared (%d illegal), %d differ, %d info ops pruned", checked, nbad, diff, pruned)
	require.Greater(t, nbad, checked/10, "some keys must be illegal, or the comparison proves little")
	require.Greater(t, pruned, 1000)
}
