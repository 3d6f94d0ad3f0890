package isolation

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation/txnsim"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// A correct store's histories are valid under strict serializability: no
// false positive, with concurrency, info and failed transactions, retired
// keys.
func TestSimulatedValid(t *testing.T) {
	for _, la := range []bool{true, false} {
		for _, clients := range []int{3, 20} {
			cfg := txnsim.Config{ListAppend: la, Clients: clients, Total: 20_000, InfoRate: 0.02, FailRate: 0.02}
			h := txnsim.History(rand.New(rand.NewSource(int64(clients))), cfg)
			m := RWRegister
			if la {
				m = ListAppend
			}
			start := time.Now()
			res := New(Options{Model: m}).Check(context.Background(), harness.CheckInput{History: h})
			assert.Equal(t, harness.Valid, res.Validity, "%s, %d clients: %s", m, clients, res.Summary)
			t.Logf("%s, %d clients: %s (%s)", m, clients, res.Summary, time.Since(start))
		}
	}
}

func BenchmarkListAppend(b *testing.B) {
	for _, clients := range []int{10, 50} {
		h := txnsim.History(rand.New(rand.NewSource(1)), txnsim.Config{ListAppend: true, Clients: clients, Total: 100_000, InfoRate: 0.01, FailRate: 0.01})
		b.Run(map[int]string{10: "10-clients", 50: "50-clients"}[clients], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res := New(Options{Model: ListAppend}).Check(context.Background(), harness.CheckInput{History: h})
				if res.Validity != harness.Valid {
					b.Fatal(res.Summary)
				}
			}
			b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "txn/s")
		})
	}
}

// A store that serves some reads from an older version: the checker finds
// it, and a large broken history stays quick.
func TestSimulatedStale(t *testing.T) {
	for _, la := range []bool{true, false} {
		m := RWRegister
		if la {
			m = ListAppend
		}
		h := txnsim.History(rand.New(rand.NewSource(2)), txnsim.Config{ListAppend: la, Clients: 10, Total: 20_000, InfoRate: 0.01, FailRate: 0.01, StaleRate: 0.05})
		start := time.Now()
		res := New(Options{Model: m}).Check(context.Background(), harness.CheckInput{History: h})
		assert.Equal(t, harness.Invalid, res.Validity, "%s: %s", m, res.Summary)
		t.Logf("%s: %s (%s)", m, res.Summary, time.Since(start))
	}
}
