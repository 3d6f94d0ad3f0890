package raft_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// benchClients is the concurrency the kv layer's target is stated for.
const benchClients = 32

// runLoad runs op from benchClients goroutines until n calls are done and
// reports throughput and latency percentiles.
func runLoad(b *testing.B, n int, op func(ctx context.Context, i int) error) {
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				t0 := time.Now()
				err := op(ctx, i)
				cancel()
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					failed.Add(1)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatalf("all %d operations failed", n)
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(all))/el.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	if f := failed.Load(); f > 0 {
		b.ReportMetric(float64(f), "failed")
		b.Logf("%d of %d failed, the first with: %v", f, n, firstErr.Load())
	}
}

// mapFSM is shaped like the kv store: a bounded set of keys, so that
// snapshots stay small as they do there.
type mapFSM struct {
	mu sync.Mutex
	m  map[string]string
}

func (f *mapFSM) Apply(index uint64, data []byte) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[string(data[:4])] = string(data[4:])
	return nil
}

func (f *mapFSM) Snapshot() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return json.Marshal(f.m)
}

func (f *mapFSM) Restore(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = map[string]string{}
	return json.Unmarshal(b, &f.m)
}

func benchCluster(b *testing.B) (*cluster, *raft.Node) {
	c := newClusterFSM(b, 3, true, func() raft.FSM { return &mapFSM{m: map[string]string{}} }, func(cfg *raft.Config) {
		cfg.ElectionTimeout, cfg.HeartbeatInterval = 500*time.Millisecond, 50*time.Millisecond
	})
	return c, c.leader()
}

// BenchmarkWrites: 32 clients propose 100-byte commands to the leader of a
// 3-node cluster with file storage (fsync per batch) and an in-memory network.
func BenchmarkWrites(b *testing.B) {
	_, lead := benchCluster(b)
	payload := make([]byte, 100)
	runLoad(b, max(b.N, 2000), func(ctx context.Context, i int) error {
		cmd := append([]byte(fmt.Sprintf("%04d", i%1000)), payload...)
		_, err := lead.Propose(ctx, cmd)
		return err
	})
}

// BenchmarkReadIndex: 32 clients confirm linearizable reads on the leader.
func BenchmarkReadIndex(b *testing.B) {
	_, lead := benchCluster(b)
	_, err := lead.Propose(context.Background(), []byte("key0value"))
	if err != nil {
		b.Fatal(err)
	}
	runLoad(b, max(b.N, 2000), func(ctx context.Context, i int) error {
		return lead.ReadIndex(ctx)
	})
}
