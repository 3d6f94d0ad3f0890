package kvnodetest

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

// BenchmarkCluster measures a 3-node raft cluster of kvnode processes with
// 32 concurrent clients: writes and linearizable reads, sent either to every
// node (followers forward to the leader, as the harness does) or to the
// leader only. It reports ops/s and p50/p99 latency in milliseconds.
func BenchmarkCluster(b *testing.B) {
	c := startCluster(b, 3)
	const clients = 32
	const keys = 1000
	leader := c.waitLeader(10 * time.Second)
	// Preload so reads find values.
	cl := client.New(leader.addr, 5*time.Second)
	for k := range keys {
		if err := cl.Put(context.Background(), fmt.Sprintf("k%d", k), "v"); err != nil {
			b.Fatalf("preload: %v", err)
		}
	}
	cl.Close()
	for _, tc := range []struct {
		name       string
		write      bool
		leaderOnly bool
	}{
		{"write/all-nodes", true, false},
		{"write/leader", true, true},
		{"read/all-nodes", false, false},
		{"read/leader", false, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			leader := c.waitLeader(10 * time.Second)
			var targets []*node
			if tc.leaderOnly {
				targets = []*node{leader}
			} else {
				targets = c.nodes
			}
			var next atomic.Int64
			var errs atomic.Int64
			lat := make([][]time.Duration, clients)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cl := client.New(targets[w%len(targets)].addr, 5*time.Second)
					defer cl.Close()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						key := fmt.Sprintf("k%d", i%keys)
						t0 := time.Now()
						var err error
						if tc.write {
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
				if len(all) == 0 {
					return 0
				}
				return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(errs.Load()), "errors")
		})
	}
}
