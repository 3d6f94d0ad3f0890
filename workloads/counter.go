// The counter workload: adds of small signed deltas to a few counters and
// reads of them, then a final read of every counter on every node after
// the heal. Deltas are mostly positive (1 to 5; one in five is negative),
// so a retried add applied twice pushes a read above what the acknowledged
// and indeterminate adds allow, and a lost one below.
//
// Counters rotate: Keys counters take adds at once, and a counter is
// retired after counterAdds adds. An add of unknown outcome widens the
// bounds of every later read of its counter for good (it may land any
// time), so on one counter for the whole run a few dozen of them would
// hide an add applied twice; a fresh counter starts with none.

package workloads

import (
	"math/rand"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/checkers/counter"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/harness"
)

const (
	defaultCounterKeys = 2
	maxDelta           = 5
	negativeShare      = 0.2
	// counterAdds is how many adds a counter takes before it is retired.
	counterAdds = 50
)

func newCounter(name string, o Options) (harness.Workload, error) {
	if err := unused(name, o, knobKeys|knobRead); err != nil {
		return nil, err
	}
	if o.Keys <= 0 {
		o.Keys = defaultCounterKeys
	}
	if o.ReadFraction <= 0 {
		o.ReadFraction = defaultRead
	}
	return &counterWorkload{name: name, opts: o}, nil
}

type counterWorkload struct {
	name string
	opts Options
}

func (w *counterWorkload) Name() string { return w.name }

// Knobs are the options as resolved.
func (w *counterWorkload) Knobs() Options { return w.opts }

// Needs: adds of signed deltas and reads of the count.
func (w *counterWorkload) Needs() []harness.Feature {
	return []harness.Feature{harness.FeatureCounter}
}

func (w *counterWorkload) Checkers() []harness.Checker {
	return []harness.Checker{counter.New(), stats.New()}
}

func (w *counterWorkload) Generator(rng *rand.Rand) harness.Generator {
	g := &counterGen{read: w.opts.ReadFraction, rng: rng}
	for range w.opts.Keys {
		g.active = append(g.active, slot{key: g.newKey()})
	}
	return g
}

type counterGen struct {
	read   float64
	rng    *rand.Rand
	active []slot // ops counts the adds a counter took
	used   []string
}

func (g *counterGen) newKey() string {
	k := "c" + strconv.Itoa(len(g.used))
	g.used = append(g.used, k)
	return k
}

func (g *counterGen) Keys() []string { return append([]string(nil), g.used...) }

func (g *counterGen) Next(harness.Process) harness.Op {
	s := &g.active[g.rng.Intn(len(g.active))]
	if g.rng.Float64() < g.read {
		return harness.Op{F: harness.FRead, Key: s.key, Kind: harness.KindCounter}
	}
	d := 1 + g.rng.Intn(maxDelta)
	if g.rng.Float64() < negativeShare {
		d = -d
	}
	op := harness.Op{F: harness.FAdd, Key: s.key, Kind: harness.KindCounter, Value: harness.Str(strconv.Itoa(d))}
	if s.ops++; s.ops >= counterAdds {
		*s = slot{key: g.newKey()}
	}
	return op
}

// FinalRead reads the counter.
func (g *counterGen) FinalRead(key string) harness.Op {
	return harness.Op{F: harness.FRead, Key: key, Kind: harness.KindCounter}
}

// FinalReadsEveryNode: every node's answer after the heal must lie within
// the bounds.
func (g *counterGen) FinalReadsEveryNode() bool { return true }
