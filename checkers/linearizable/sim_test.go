package linearizable

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable/linsim"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

// simulate produces a linearizable kv history (see linsim) with 20% cas.
// values > 0 draws written values from 0..values-1 instead of making them
// unique.
func simulate(rng *rand.Rand, clients, active, opsPerKey, total int, infoRate float64, values int) h.History {
	return simulateMix(rng, clients, active, opsPerKey, total, infoRate, values, 0.2)
}

// simulateMix is simulate with casRate of the ops cas.
func simulateMix(rng *rand.Rand, clients, active, opsPerKey, total int, infoRate float64, values int, casRate float64) h.History {
	return linsim.Simulate(rng, linsim.Config{Clients: clients, Active: active, OpsPerKey: opsPerKey, Total: total,
		InfoRate: infoRate, CASRate: casRate, Values: values})
}

func TestSimulatedHistoriesAreLinearizable(t *testing.T) {
	for seed := int64(0); seed < 10; seed++ {
		hh := simulate(rand.New(rand.NewSource(seed)), 10, 5, 100, 3000, 0.03, []int{0, 5}[seed%2])
		r := Check(context.Background(), hh, Options{})
		require.Equal(t, h.Valid, r.Validity, "seed %d: %s", seed, r.Summary)
	}
}

// Every direct proof the explainer gives must be a real violation: corrupt
// reads of simulated histories and hold each key the explainer calls broken
// against porcupine (without pruning, so the two judge the same ops). Also
// porcupine's invalid keys must get an explanation.
func TestExplanationsAreSound(t *testing.T) {
	proofs, fallbacks, pruned, bounded := 0, 0, 0, 0
	for seed := int64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		hh := simulate(rng, 6, 3, 60, 600, 0.05, []int{0, 5}[seed%2])
		var written []string
		for i, op := range hh {
			if op.Value != nil && op.Type == h.Invoke {
				written = append(written, *op.Value)
			}
			if op.F == h.FRead && op.Type == h.OK && rng.Intn(25) == 0 {
				switch rng.Intn(4) {
				case 0:
					hh[i].Value = nil
				case 1:
					hh[i].Value = h.Str("junk")
				default:
					if len(written) > 0 {
						hh[i].Value = h.Str(written[rng.Intn(len(written))])
					}
				}
			}
		}
		keys, _ := split(hh, Options{NoPrune: true})
		m := model(nil, nil)
		illegal := map[string]bool{}
		for _, kh := range keys {
			e := explainKey(kh, nil, clock{})
			res := porcupine.CheckOperationsTimeout(m, kh.ops, 10*time.Second)
			illegal[kh.key] = res == porcupine.Illegal
			if e.found {
				proofs++
				require.Equal(t, porcupine.Illegal, res, "seed %d key %s: explained %q but porcupine says %s", seed, kh.key, e.text, res)
			} else if res == porcupine.Illegal {
				fallbacks++
			}
		}
		// Pruning unobserved info writes changes no key's verdict.
		r := Check(context.Background(), hh, Options{})
		var d Details
		require.NoError(t, json.Unmarshal(r.Details, &d))
		for _, kd := range d.Invalid {
			assert.True(t, illegal[kd.Key], "seed %d key %s: invalid only when pruned", seed, kd.Key)
			delete(illegal, kd.Key)
		}
		for k, bad := range illegal {
			assert.False(t, bad, "seed %d key %s: valid only when pruned", seed, k)
		}
		pruned += d.Pruned
		bounded += d.Bounded
		for _, a := range r.Anomalies {
			assert.NotEmpty(t, a.Explanation)
			assert.NotEmpty(t, a.Window, "seed %d key %s", seed, a.Key)
		}
	}
	t.Logf("%d direct proofs, %d violations left to the partial linearization, %d info writes pruned, %d bounded", proofs, fallbacks, pruned, bounded)
	assert.Greater(t, proofs, 50)
	assert.Greater(t, fallbacks, 0)
	assert.Greater(t, pruned, 20)
	assert.Greater(t, bounded, 20)
}

// BenchmarkCheck100k checks a 100,000-op kv history: 1,000 keys (10 active,
// 100 ops each), 10 clients, 1% info ops.
func BenchmarkCheck100k(b *testing.B) {
	hh := simulate(rand.New(rand.NewSource(42)), 10, 10, 100, 100_000, 0.01, 0)
	keys, _ := split(hh, Options{})
	if len(keys) < 1000 || len(keys) > 1010 {
		b.Fatalf("want about 1000 keys, got %d", len(keys))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := Check(context.Background(), hh, Options{})
		if r.Validity != h.Valid {
			b.Fatal(r.Summary)
		}
	}
	b.ReportMetric(float64(len(hh)/2), "ops/check")
}

// BenchmarkWorkers shows the per-key parallelism: keys are searched by
// Options.Workers goroutines (default GOMAXPROCS).
func BenchmarkWorkers(b *testing.B) {
	hh := simulate(rand.New(rand.NewSource(42)), 10, 10, 100, 100_000, 0.01, 0)
	for _, w := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Check(context.Background(), hh, Options{Workers: w})
			}
		})
	}
}

// A long single-key history is drawn only up to a second after its
// violation.
func TestLongKeyIsCutForDrawing(t *testing.T) {
	hh := simulate(rand.New(rand.NewSource(5)), 5, 1, 1<<30, 4000, 0, 0)
	// Find a read late enough to be stale: make it return the first value
	// written, long overwritten.
	first := ""
	for _, op := range hh {
		if op.F == h.FWrite && op.Type == h.OK {
			first = *op.Value
			break
		}
	}
	stale := -1
	for i, op := range hh {
		if op.F == h.FRead && op.Type == h.OK && op.Index > 1000 && op.Value != nil && *op.Value != first {
			hh[i].Value, stale = h.Str(first), i
			break
		}
	}
	require.Positive(t, stale)
	dir := t.TempDir()
	r := New(Options{}).Check(context.Background(), h.CheckInput{History: hh, Dir: dir})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Equal(t, hh[stale].Time, r.Anomalies[0].Time)
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	require.Len(t, d.Invalid, 1)
	assert.Positive(t, d.Invalid[0].Linearized)
	assert.Less(t, d.Invalid[0].Linearized, 1500, "the drawn history stops a second after the violation")
	assert.Equal(t, []string{"k0"}, d.Drawn)
}

// A single busy register: too long for porcupine's search within the
// timeout, decided by zones in milliseconds.
func TestLongRegisterByZones(t *testing.T) {
	hh := simulateMix(rand.New(rand.NewSource(3)), 10, 1, 1<<30, 40000, 0.02, 0, 0)
	start := time.Now()
	r, d := run(t, hh, Options{Timeout: 20 * time.Second})
	require.Equal(t, h.Valid, r.Validity, r.Summary)
	assert.Equal(t, 1, d.Zoned, "decided by zones, not by a search")
	t.Logf("valid in %s", time.Since(start).Round(time.Millisecond))

	// Make a late read return an early value.
	var first string
	for _, op := range hh {
		if op.F == h.FWrite && op.Type == h.OK {
			first = *op.Value
			break
		}
	}
	for i := len(hh) / 2; i < len(hh); i++ {
		if hh[i].F == h.FRead && hh[i].Type == h.OK {
			hh[i].Value = h.Str(first)
			break
		}
	}
	r, d = run(t, hh, Options{Timeout: 20 * time.Second})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Equal(t, 1, d.Zoned)
	assert.Contains(t, r.Anomalies[0].Explanation, "returned "+first)
	t.Log(r.Anomalies[0].Explanation)
}

// A seeded violation (a stale read in the second half) of each benchmark
// shape is found, with the stale read as the first anomaly, and a busy
// register's verdict takes no search.
func TestSeededViolationsPerShape(t *testing.T) {
	shapes := map[string]linsim.Config{
		"hot5":  {Clients: 5, Active: 1, OpsPerKey: 1 << 30, Total: 20_000, InfoRate: 0.01, CASRate: 0.2},
		"hot20": {Clients: 20, Active: 1, OpsPerKey: 1 << 30, Total: 20_000, InfoRate: 0.01, CASRate: 0.2},
		"easy":  {Clients: 20, Active: 10, OpsPerKey: 100, Total: 100_000, InfoRate: 0.01, CASRate: 0.2},
	}
	for name, cfg := range shapes {
		t.Run(name, func(t *testing.T) {
			hh := linsim.Simulate(rand.New(rand.NewSource(1)), cfg)
			start := time.Now()
			r, d := run(t, hh, Options{})
			require.Equal(t, h.Valid, r.Validity, r.Summary)
			assert.Equal(t, d.Keys, d.Zoned, "every key decided by chains")
			t.Logf("valid in %s", time.Since(start))

			stale := linsim.StaleRead(hh)
			require.Positive(t, stale)
			start = time.Now()
			r, _ = run(t, hh, Options{})
			t.Logf("invalid in %s: %s", time.Since(start), r.Anomalies[0].Explanation)
			require.Equal(t, h.Invalid, r.Validity, r.Summary)
			assert.Equal(t, hh[stale].Time, r.Anomalies[0].Time, "the stale read is the first anomaly")
			assert.Contains(t, r.Anomalies[0].Explanation, "returned "+*hh[stale].Value)
		})
	}
}

// A busy register's violation is drawn from the chains of values its proof
// names, which porcupine searches at once, not from a long prefix.
func TestBusyKeyDrawingIsBounded(t *testing.T) {
	hh := linsim.Simulate(rand.New(rand.NewSource(1)), linsim.Config{Clients: 20, Active: 1, OpsPerKey: 1 << 30, Total: 20_000, InfoRate: 0.01, CASRate: 0.2})
	require.Positive(t, linsim.StaleRead(hh))
	start := time.Now()
	r, d := runDrawn(t, hh, Options{})
	t.Logf("invalid in %s; drawn %v, undrawn %v", time.Since(start), d.Drawn, d.Undrawn)
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Equal(t, []string{"k0"}, d.Drawn, "the chains the violation involves are drawn")
	require.Len(t, d.Invalid, 1)
	assert.Positive(t, d.Invalid[0].Linearized)
}
