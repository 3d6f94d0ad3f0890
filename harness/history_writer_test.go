package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistoryWriterFlushesWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryFile)
	hw, err := newHistoryWriter(path, time.Now())
	require.NoError(t, err)
	t.Cleanup(func() { _ = hw.Close() })
	for i := range 10 {
		op := hw.Record(Op{Process: Process(i), Type: Invoke, F: FWrite, Key: "k", Value: Str("v")})
		require.Equal(t, i, op.Index)
	}
	// A harness killed now would leave whatever reached the file: it must
	// be there within the flush interval, without Close.
	require.Eventually(t, func() bool {
		h, err := ReadHistory(path)
		return err == nil && len(h) == 10
	}, 3*flushInterval, 10*time.Millisecond)
}

func TestHistoryWriterTornTailIsReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryFile)
	hw, err := newHistoryWriter(path, time.Now())
	require.NoError(t, err)
	for i := range 5 {
		hw.Record(Op{Process: Process(i), Type: Invoke, F: FRead, Key: "k"})
	}
	require.NoError(t, hw.Close())
	require.NoError(t, hw.Close(), "Close is idempotent")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:len(b)-7], 0o644)) // cut mid-line
	h, err := ReadHistory(path)
	require.NoError(t, err)
	assert.Len(t, h, 4)
}

func TestHistoryWriterTimesAreMonotonic(t *testing.T) {
	hw, err := newHistoryWriter(filepath.Join(t.TempDir(), HistoryFile), time.Now())
	require.NoError(t, err)
	defer hw.Close()
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 1000 {
				hw.Record(Op{Process: Process(w), Type: Invoke, F: FRead})
			}
		}()
	}
	for range 4 {
		<-done
	}
	h := hw.History()
	require.Len(t, h, 4000)
	for i := 1; i < len(h); i++ {
		require.Equal(t, i, h[i].Index)
		require.GreaterOrEqual(t, h[i].Time, h[i-1].Time)
	}
}

// BenchmarkRunnerNoop measures the harness alone: workers, generator,
// history writer and counters, with a client that does nothing.
func BenchmarkRunnerNoop(b *testing.B) {
	var ops, secs float64
	for b.Loop() {
		sys := newMemSystem()
		tst := Test{System: "mem", Deploy: "mem", Workload: "kv", Nodes: 5, Concurrency: 10,
			TimeLimit: Duration(2 * time.Second), Seed: 1, Out: b.TempDir()}
		p := Parts{System: sys, Deployment: &memDeployment{}, Workload: kvWorkload{keys: 100}}
		res, err := Run(context.Background(), tst, p)
		if err != nil {
			b.Fatal(err)
		}
		ops += float64(res.Ops)
		secs += res.TestTime.D().Seconds()
	}
	b.ReportMetric(ops/secs, "ops/s")
}
