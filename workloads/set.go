// The set workload (Jepsen's set-full): unique adds to a few sets and reads
// of whole sets, then a final read of every set on every node after the
// heal. Each element is added once (a decimal number unique in the run), so
// the checker can follow it through every read: lost (acknowledged, or
// seen, and then missing from the last reads), unexpected, stale, and how
// long it took to become visible for good.
//
// Sets rotate: Keys sets take adds at once, and a set is retired after
// setElements adds, so no read returns more than a few hundred elements and
// the history stays small however long the run.

package workloads

import (
	"math/rand"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/checkers/set"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/harness"
)

const (
	defaultSetKeys = 2
	// setElements is how many adds a set takes before it is retired.
	setElements = 100
)

func newSet(name string, o Options) (harness.Workload, error) {
	if err := unused(name, o, knobKeys|knobRead); err != nil {
		return nil, err
	}
	if o.Keys <= 0 {
		o.Keys = defaultSetKeys
	}
	if o.ReadFraction <= 0 {
		o.ReadFraction = defaultRead
	}
	return &setWorkload{name: name, opts: o}, nil
}

type setWorkload struct {
	name string
	opts Options
}

func (w *setWorkload) Name() string { return w.name }

// Knobs are the options as resolved.
func (w *setWorkload) Knobs() Options { return w.opts }

// Needs: adds of elements to a set and reads of the whole set.
func (w *setWorkload) Needs() []harness.Feature { return []harness.Feature{harness.FeatureSet} }

// Checkers: set-full; stale reads count against a system that promises
// strict serializability (its reads are linearizable).
func (w *setWorkload) Checkers() []harness.Checker {
	return []harness.Checker{set.Checker{Linearizable: linearizableReads(w.opts)}, stats.New()}
}

// linearizableReads: the system promises strict serializability, so each
// of its reads sees every add acknowledged before the read began.
func linearizableReads(o Options) bool { return o.Promised == "strict-serializable" }

func (w *setWorkload) Generator(rng *rand.Rand) harness.Generator {
	g := &setGen{read: w.opts.ReadFraction, rng: rng}
	for range w.opts.Keys {
		g.active = append(g.active, slot{key: g.newKey()})
	}
	return g
}

type setGen struct {
	read   float64
	rng    *rand.Rand
	active []slot // ops counts the adds a set took
	used   []string
	value  int
}

func (g *setGen) newKey() string {
	k := "s" + strconv.Itoa(len(g.used))
	g.used = append(g.used, k)
	return k
}

func (g *setGen) Keys() []string { return append([]string(nil), g.used...) }

func (g *setGen) Next(harness.Process) harness.Op {
	s := &g.active[g.rng.Intn(len(g.active))]
	if g.rng.Float64() < g.read {
		return harness.Op{F: harness.FRead, Key: s.key, Kind: harness.KindSet}
	}
	g.value++
	op := harness.Op{F: harness.FAdd, Key: s.key, Kind: harness.KindSet, Value: harness.Str(strconv.Itoa(g.value))}
	if s.ops++; s.ops >= setElements {
		*s = slot{key: g.newKey()}
	}
	return op
}

// FinalRead reads the whole set.
func (g *setGen) FinalRead(key string) harness.Op {
	return harness.Op{F: harness.FRead, Key: key, Kind: harness.KindSet}
}

// FinalReadsEveryNode: a replica that lost an element shows it only when
// read itself.
func (g *setGen) FinalReadsEveryNode() bool { return true }
