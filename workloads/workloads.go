// Package workloads holds the generators of operations and the checkers that
// judge their histories.
//
//   - register: one key; read, write (unique values), cas.
//   - register-without-cas: the same without cas.
//   - kv: many independent keys; read, write, cas. Keys rotate — a key is
//     retired after about OpsPerKey ops and a fresh one takes its place — so
//     no key's history grows past a few hundred ops and the per-key
//     linearizability search stays fast (Jepsen's "independent" trick).
//   - kv-without-cas: the same without cas (a leaderless quorum store's
//     reads and writes can be linearizable, its cas cannot).
//
// Written values are unique across the run (a counter, in decimal), which is
// what lets a checker tell which write a read saw. Cas expects one of the
// values recently written to its key, so that it sometimes succeeds.
package workloads

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Options shape a workload. Zero fields take the defaults.
type Options struct {
	// Keys is how many keys are in use at once (kv; default 8). register
	// always uses one.
	Keys int
	// OpsPerKey retires a key after this many ops (kv; default 200).
	// register never rotates its key.
	OpsPerKey int
	// ReadFraction is the share of reads (default 0.5).
	ReadFraction float64
	// CASFraction is the share of cas (default 0.2; always 0 without cas).
	CASFraction float64
	// CheckTimeout bounds the linearizability check (default 30 s).
	CheckTimeout time.Duration

	// Transactions (list-append, rw-register, bank; see txn.go, bank.go).
	MinTxnLength    int // micro-ops of a transaction, at least (default 1)
	MaxTxnLength    int // micro-ops of a transaction, at most (default 4)
	MaxWritesPerKey int // writes of a key before it is retired (default 32)
	Accounts        int // bank accounts (default 8)
	// Consistency is the model the isolation checker judges against, as the
	// test names it ("" = not named); Promised is the system's own
	// (harness.ConsistencySystem), used when the test names none.
	Consistency string
	Promised    string
}

// DefaultReadFraction is the share of reads of a workload asked for none.
const DefaultReadFraction = 0.5

const (
	defaultKeys      = 8
	defaultOpsPerKey = 200
	defaultRead      = DefaultReadFraction
	defaultCAS       = 0.2
	// recent is how many of a key's latest written values cas may expect.
	recent = 4
)

type spec struct {
	keys   bool // many rotating keys
	cas    bool
	about  string
	single string // the register's key
	// make builds a workload of another family than the registers (the
	// transactional ones); nil: the register family below.
	make func(name string, o Options) (harness.Workload, error)
	// noReads: the workload has no reads, so no read fraction either.
	noReads bool
}

var specs = map[string]spec{
	"register":             {cas: true, about: "one key: read, write, cas"},
	"register-without-cas": {about: "one key: read, write"},
	"kv":                   {keys: true, cas: true, about: "many independent rotating keys: read, write, cas"},
	"kv-without-cas":       {keys: true, about: "many independent rotating keys: read, write"},
	"list-append":          {make: newListAppend, about: "transactions of appends to lists and list reads over rotating keys (Elle's list-append)"},
	"rw-register":          {make: newRWRegister, about: "transactions of register writes (unique values) and reads over rotating keys (Elle's rw-register)"},
	"bank":                 {make: newBank, about: "transfers between accounts inside transactions, reads of every account in one; the total never changes"},
	"set":                  {make: newSet, about: "unique adds to rotating sets and reads of whole sets, a final read on every node (Jepsen's set-full: lost, stale, unexpected elements)"},
	"counter":              {make: newCounter, about: "adds of signed deltas to counters and reads, judged against the bounds acknowledged and indeterminate adds allow"},
	"lock":                 {make: newLock, noReads: true, about: "acquire a named lock (--keys locks, default 1), hold it doing guarded work, release it; mutual exclusion, owners and fencing tokens"},
}

// Names lists the workloads, sorted.
func Names() []string {
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultReadFractionOf is the share of reads workload name takes when asked
// for none: DefaultReadFraction for the register and kv workloads, 0 (not
// known here) for any other.
func DefaultReadFractionOf(name string) float64 {
	if s, ok := specs[name]; ok && !s.noReads {
		return DefaultReadFraction
	}
	return 0
}

// Describe returns a one-line description of a workload ("" if unknown).
func Describe(name string) string { return specs[name].about }

// New returns the named workload.
func New(name string, opts Options) (harness.Workload, error) {
	s, ok := specs[name]
	if !ok {
		return nil, fmt.Errorf("unknown workload %q: want one of %v", name, Names())
	}
	if s.make != nil {
		return s.make(name, opts)
	}
	// register keeps its one key whatever Keys says (documented above).
	if err := unused(name, opts, knobKeys|knobRead); err != nil {
		return nil, err
	}
	if opts.Keys <= 0 {
		opts.Keys = defaultKeys
	}
	if opts.OpsPerKey <= 0 {
		opts.OpsPerKey = defaultOpsPerKey
	}
	if opts.ReadFraction <= 0 {
		opts.ReadFraction = defaultRead
	}
	if opts.CASFraction <= 0 {
		// The default cas share yields to a large read share: it takes at
		// most half of what reads leave, so writes keep the other half.
		opts.CASFraction = min(defaultCAS, (1-opts.ReadFraction)/2)
	}
	if !s.cas {
		opts.CASFraction = 0
	}
	if !s.keys {
		opts.Keys, opts.OpsPerKey = 1, 0
	}
	if opts.ReadFraction+opts.CASFraction > 1 {
		return nil, fmt.Errorf("workload %s: read fraction %.2f plus cas fraction %.2f exceed 1", name, opts.ReadFraction, opts.CASFraction)
	}
	return &workload{name: name, opts: opts}, nil
}

type workload struct {
	name string
	opts Options
}

func (w *workload) Name() string { return w.name }

// Knobs are the options as resolved.
func (w *workload) Knobs() Options { return w.opts }

func (w *workload) Checkers() []harness.Checker {
	return []harness.Checker{
		linearizable.New(linearizable.Options{Timeout: w.opts.CheckTimeout}),
		stats.New(),
	}
}

func (w *workload) Generator(rng *rand.Rand) harness.Generator {
	g := &generator{opts: w.opts, rng: rng, recent: map[string][]string{}}
	for i := 0; i < w.opts.Keys; i++ {
		g.active = append(g.active, slot{key: g.newKey()})
	}
	return g
}

type slot struct {
	key string
	ops int
}

type generator struct {
	opts   Options
	rng    *rand.Rand
	active []slot
	used   []string
	next   int // next key number
	value  int // last value written
	recent map[string][]string
}

func (g *generator) newKey() string {
	k := "r"
	if g.opts.OpsPerKey > 0 {
		k = "k" + strconv.Itoa(g.next)
	}
	g.next++
	g.used = append(g.used, k)
	return k
}

func (g *generator) Keys() []string { return append([]string(nil), g.used...) }

func (g *generator) Next(p harness.Process) harness.Op {
	i := g.rng.Intn(len(g.active))
	s := &g.active[i]
	key := s.key
	op := harness.Op{Key: key}
	x := g.rng.Float64()
	rec := g.recent[key]
	switch {
	case x < g.opts.ReadFraction:
		op.F = harness.FRead
	case x < g.opts.ReadFraction+g.opts.CASFraction && len(rec) > 0:
		op.F = harness.FCAS
		// Prefer the latest value: it is the one most likely still there.
		from := rec[len(rec)-1]
		if g.rng.Intn(2) == 0 {
			from = rec[g.rng.Intn(len(rec))]
		}
		op.From = harness.Str(from)
		op.Value = harness.Str(g.fresh(key))
	default:
		op.F = harness.FWrite
		op.Value = harness.Str(g.fresh(key))
	}
	s.ops++
	if g.opts.OpsPerKey > 0 && s.ops >= g.opts.OpsPerKey {
		delete(g.recent, key)
		*s = slot{key: g.newKey()}
	}
	return op
}

// fresh returns a value never written before and remembers it for cas.
func (g *generator) fresh(key string) string {
	g.value++
	v := strconv.Itoa(g.value)
	rec := append(g.recent[key], v)
	if len(rec) > recent {
		rec = rec[len(rec)-recent:]
	}
	g.recent[key] = rec
	return v
}
