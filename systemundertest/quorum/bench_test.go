package quorum

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// BenchmarkCluster measures in-process quorum clusters (real HTTP on
// 127.0.0.1, fsync on every acknowledged put) with 32 concurrent clients
// spread over every node: writes, reads, and a 50/50 mix on 1000 keys.
// It reports ops/s and p50/p99 latency in milliseconds.
//
//	go test ./systemundertest/quorum -run '^$' -bench Cluster -benchtime 3000x
func BenchmarkCluster(b *testing.B) {
	for _, size := range []int{3, 5} {
		b.Run(fmt.Sprintf("nodes=%d", size), func(b *testing.B) {
			c := newCluster(b, size, nil)
			const clients, keys = 32, 1000
			cl := client.New(c.addr(c.ids[0]), 5*time.Second)
			for k := range keys {
				if err := cl.Put(context.Background(), fmt.Sprintf("k%d", k), "v"); err != nil {
					b.Fatalf("preload: %v", err)
				}
			}
			cl.Close()
			for _, mix := range []struct {
				name   string
				writes int // percent
			}{{"write", 100}, {"read", 0}, {"mixed", 50}} {
				b.Run(mix.name, func(b *testing.B) {
					var next, errs atomic.Int64
					lat := make([][]time.Duration, clients)
					var wg sync.WaitGroup
					b.ResetTimer()
					start := time.Now()
					for w := range clients {
						wg.Add(1)
						go func() {
							defer wg.Done()
							cl := client.New(c.addr(c.ids[w%size]), 5*time.Second)
							defer cl.Close()
							for {
								i := next.Add(1)
								if i > int64(b.N) {
									return
								}
								key := fmt.Sprintf("k%d", (i*7919)%keys)
								t0 := time.Now()
								var err error
								if int(i%100) < mix.writes {
									err = cl.Put(context.Background(), key, fmt.Sprintf("v%d", i))
								} else {
									_, _, err = cl.Get(context.Background(), key, false)
								}
								lat[w] = append(lat[w], time.Since(t0))
								if err != nil {
									errs.Add(1)
								}
							}
						}()
					}
					wg.Wait()
					elapsed := time.Since(start)
					b.StopTimer()
					all := slices.Concat(lat...)
					slices.Sort(all)
					pct := func(p float64) float64 {
						return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
					}
					b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
					b.ReportMetric(pct(0.50), "p50-ms")
					b.ReportMetric(pct(0.99), "p99-ms")
					b.ReportMetric(float64(errs.Load()), "errors")
				})
			}
		})
	}
}
