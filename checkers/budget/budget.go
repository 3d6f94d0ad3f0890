// Package budget bounds the memory of a checker's search. Porcupine's search
// caches every state it reaches; on a busy register it can fill any machine
// within seconds (24 GB in under 10 s was seen), taking the whole process —
// a campaign, the other runs — with it. A Watch samples the heap while a
// search runs; once the heap has grown by more than the budget since the
// watch started, Exceeded turns true, and a search stepping through Step
// refuses every further step, so that it unwinds at once. The check then
// reports unknown, with Reason, instead of the OOM killer ending it.
//
// The watch sees the process's heap, not the search's own objects (Go keeps
// no per-goroutine accounting): runs in parallel in one process (a campaign
// with --parallel) count against each other's budgets. That errs towards
// unknown, never towards a wrong verdict.
package budget

import (
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// DefaultBytes is the budget when none is set: 2 GiB per check, so that a
// few checks and runs in parallel fit a 24 GiB machine.
const DefaultBytes = 2 << 30

// EnvVar overrides DefaultBytes for every checker that was given no budget
// of its own: bytes, or a number with KiB, MiB or GiB.
const EnvVar = "GAUNTLET_CHECK_MEMORY"

// Default is the budget for checkers given none: EnvVar if it is set and
// valid, else DefaultBytes.
func Default() int64 {
	if v := os.Getenv(EnvVar); v != "" {
		if n, err := Parse(v); err == nil {
			return n
		}
	}
	return DefaultBytes
}

// Parse reads "2GiB", "512MiB", "64KiB" or a plain number of bytes.
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = strings.TrimSpace(rest), m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("memory budget %q: want a positive number of bytes, or one with KiB, MiB or GiB (e.g. 2GiB)", s)
	}
	return int64(n * float64(mult)), nil
}

// Show renders a budget: "2.0 GiB".
func Show(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// Watch samples the heap until Stop.
type Watch struct {
	limit    int64
	exceeded atomic.Bool
	peak     atomic.Int64
	stop     chan struct{}
	once     sync.Once
}

// sampleEvery: porcupine's cache was seen to grow by about 300 MB/s, so a
// sample every 20 ms overshoots the budget by a few MB.
const sampleEvery = 20 * time.Millisecond

// Start watches the heap's growth against limit bytes (<= 0: Default()).
func Start(limit int64) *Watch {
	if limit <= 0 {
		limit = Default()
	}
	w := &Watch{limit: limit, stop: make(chan struct{})}
	base := heapBytes()
	go func() {
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				grown := heapBytes() - base
				if grown > w.peak.Load() {
					w.peak.Store(grown)
				}
				if grown > w.limit {
					w.exceeded.Store(true)
					return
				}
			}
		}
	}()
	return w
}

// Stop ends the sampling; Exceeded keeps its answer.
func (w *Watch) Stop() { w.once.Do(func() { close(w.stop) }) }

// Exceeded says whether the heap outgrew the budget.
func (w *Watch) Exceeded() bool { return w.exceeded.Load() }

// Limit is the budget in bytes.
func (w *Watch) Limit() int64 { return w.limit }

// Reason words an exceeded budget for a summary.
func (w *Watch) Reason() string {
	return fmt.Sprintf("the search would exceed its memory budget of %s (set %s to change it)", Show(w.limit), EnvVar)
}

// Guard wraps m's Step so that a search refuses every step once the budget
// is exceeded (porcupine then unwinds and answers Illegal, which the caller
// must not believe: aborted tells). Each search needs its own Guard.
func (w *Watch) Guard(m porcupine.Model) (porcupine.Model, *atomic.Bool) {
	aborted := &atomic.Bool{}
	step := m.Step
	m.Step = func(st, in, out interface{}) (bool, interface{}) {
		if w.exceeded.Load() {
			aborted.Store(true)
			return false, st
		}
		return step(st, in, out)
	}
	return m, aborted
}

func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// Check is porcupine.CheckOperationsTimeout within a memory budget of limit
// bytes (<= 0: Default()). When the budget stopped the search, the result
// is Unknown and reason says why; reason is empty otherwise.
func Check(m porcupine.Model, ops []porcupine.Operation, timeout time.Duration, limit int64) (res porcupine.CheckResult, reason string) {
	w := Start(limit)
	defer w.Stop()
	gm, aborted := w.Guard(m)
	res = porcupine.CheckOperationsTimeout(gm, ops, timeout)
	if aborted.Load() {
		return porcupine.Unknown, w.Reason()
	}
	return res, ""
}
