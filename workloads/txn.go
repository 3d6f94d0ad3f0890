// Transactional workloads in the manner of Elle's generators:
//
//   - list-append: transactions of [append k v] and [r k] (which returns the
//     whole list). Every value appended to a key is unique, so a read shows
//     the order in which the key's appends took effect: the version order
//     the isolation checker builds its dependencies from.
//   - rw-register: transactions of [w k v] (values unique per run) and [r k].
//
// A transaction has MinTxnLength to MaxTxnLength micro-ops; each is a read
// with probability ReadFraction, else a write. Keys are drawn from Keys
// keys in use at once, the first twice as likely as the second, and so on
// (Elle's exponential distribution): a few hot keys see the conflicts
// anomalies need, the rest keep dependencies flowing between them. A key
// that has been written MaxWritesPerKey times is retired and a fresh one
// takes its place, so no list grows long and per-key version orders stay
// small (Elle's max-writes-per-key).

package workloads

import (
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Defaults of the transactional workloads. Elle's generator defaults to
// one or two micro-ops and 32 writes per key; Jepsen's database tests
// mostly ask for up to four micro-ops, which gives cycles more room.
const (
	defaultTxnKeys         = 10
	defaultMinTxnLength    = 1
	defaultMaxTxnLength    = 4
	defaultMaxWritesPerKey = 32
)

// Consistency models the isolation checker knows, weakest first.
var consistencyModels = []string{
	isolation.ReadUncommitted, isolation.ReadCommitted, isolation.SnapshotIsolation,
	isolation.Serializable, isolation.StrongSessionSerializable, isolation.StrictSerializable,
}

// ConsistencyModels lists the models --consistency takes, weakest first.
func ConsistencyModels() []string { return append([]string(nil), consistencyModels...) }

// Knobbed is a workload that tells its options as resolved (defaults
// filled in), so that a run records every value it used.
type Knobbed interface {
	Knobs() Options
}

// knob is a set of the options a workload uses.
type knob int

const (
	knobKeys knob = 1 << iota
	knobRead
	knobTxnLength
	knobWritesPerKey
	knobAccounts
	knobConsistency
)

// unused refuses options set for a workload that does not use them: a knob
// silently ignored would make a user believe they tested what they did not.
func unused(name string, o Options, uses knob) error {
	var errs []error
	for _, k := range []struct {
		k    knob
		set  bool
		flag string
	}{
		{knobKeys, o.Keys > 0, "keys"},
		{knobRead, o.ReadFraction > 0, "read-fraction"},
		{knobTxnLength, o.MinTxnLength > 0, "min-txn-length"},
		{knobTxnLength, o.MaxTxnLength > 0, "max-txn-length"},
		{knobWritesPerKey, o.MaxWritesPerKey > 0, "max-writes-per-key"},
		{knobAccounts, o.Accounts > 0, "accounts"},
		{knobConsistency, o.Consistency != "", "consistency"},
	} {
		if k.set && uses&k.k == 0 {
			errs = append(errs, fmt.Errorf("workload %s has no use for --%s (%s)", name, k.flag, usedBy(k.k)))
		}
	}
	return errors.Join(errs...)
}

func usedBy(k knob) string {
	switch k {
	case knobKeys:
		return "it shapes kv, list-append, rw-register, set, counter and lock"
	case knobAccounts:
		return "it shapes bank"
	case knobConsistency:
		return "it is the model list-append and rw-register histories are judged against"
	default:
		return "it shapes list-append and rw-register"
	}
}

// checkConsistency resolves the model to judge against: the test's, else
// the system's promise, else strict serializable (Elle's default).
func checkConsistency(o Options) (string, error) {
	c := o.Consistency
	if c == "" {
		c = o.Promised
	}
	if c == "" {
		return isolation.StrictSerializable, nil
	}
	for _, m := range consistencyModels {
		if c == m {
			return c, nil
		}
	}
	return "", fmt.Errorf("consistency model %q is not one the isolation checker knows: want one of %s", c, strings.Join(consistencyModels, ", "))
}

// txnOptions fills the transactional defaults and checks them.
func txnOptions(name string, o Options) (Options, error) {
	if err := unused(name, o, knobKeys|knobRead|knobTxnLength|knobWritesPerKey|knobConsistency); err != nil {
		return o, err
	}
	if o.Keys <= 0 {
		o.Keys = defaultTxnKeys
	}
	if o.MinTxnLength <= 0 {
		o.MinTxnLength = defaultMinTxnLength
	}
	if o.MaxTxnLength <= 0 {
		o.MaxTxnLength = max(defaultMaxTxnLength, o.MinTxnLength)
	}
	if o.MaxWritesPerKey <= 0 {
		o.MaxWritesPerKey = defaultMaxWritesPerKey
	}
	if o.ReadFraction <= 0 {
		o.ReadFraction = defaultRead
	}
	if o.MinTxnLength > o.MaxTxnLength {
		return o, fmt.Errorf("workload %s: --min-txn-length %d exceeds --max-txn-length %d", name, o.MinTxnLength, o.MaxTxnLength)
	}
	c, err := checkConsistency(o)
	if err != nil {
		return o, fmt.Errorf("workload %s: %w", name, err)
	}
	o.Consistency = c
	return o, nil
}

func newListAppend(name string, o Options) (harness.Workload, error) {
	o, err := txnOptions(name, o)
	return &txnWorkload{name: name, model: isolation.ListAppend, opts: o}, err
}

func newRWRegister(name string, o Options) (harness.Workload, error) {
	o, err := txnOptions(name, o)
	return &txnWorkload{name: name, model: isolation.RWRegister, opts: o}, err
}

// txnWorkload is list-append or rw-register.
type txnWorkload struct {
	name  string
	model isolation.Model
	opts  Options
}

func (w *txnWorkload) Name() string { return w.name }

// Needs: appends and list reads, or register writes and reads, inside
// transactions.
func (w *txnWorkload) Needs() []harness.Feature {
	if w.model == isolation.ListAppend {
		return []harness.Feature{harness.FeatureTxnAppend}
	}
	return []harness.Feature{harness.FeatureTxnRW}
}

// Consistency is the model the history is judged against.
func (w *txnWorkload) Consistency() string { return w.opts.Consistency }

// Knobs are the options as resolved.
func (w *txnWorkload) Knobs() Options { return w.opts }

func (w *txnWorkload) Checkers() []harness.Checker {
	return []harness.Checker{
		isolation.New(isolation.Options{Model: w.model, Consistency: w.opts.Consistency, Timeout: w.opts.CheckTimeout}),
		stats.New(),
	}
}

func (w *txnWorkload) Generator(rng *rand.Rand) harness.Generator {
	g := &txnGen{opts: w.opts, list: w.model == isolation.ListAppend, rng: rng, writes: map[string]int{}}
	for range w.opts.Keys {
		g.active = append(g.active, g.newKey())
	}
	return g
}

// txnGen generates transactions over rotating keys.
type txnGen struct {
	opts   Options
	list   bool // list-append: append and list reads; else w and register reads
	rng    *rand.Rand
	active []string       // keys in use, hottest first
	writes map[string]int // writes issued per active key
	used   []string       // every key handed out
	next   int            // number of the next fresh key
	value  int            // last value written (values are unique per run)
}

func (g *txnGen) newKey() string {
	k := strconv.Itoa(g.next)
	g.next++
	g.used = append(g.used, k)
	return k
}

func (g *txnGen) Keys() []string { return append([]string(nil), g.used...) }

// read is a read micro-op of key. A list read carries an empty list in the
// invocation: it tells a client that serves both kinds which one to return
// for a key that holds nothing yet.
func (g *txnGen) read(key string) harness.Mop {
	m := harness.Mop{F: harness.MRead, Key: key}
	if g.list {
		m.List = []string{}
	}
	return m
}

func (g *txnGen) Next(harness.Process) harness.Op {
	n := g.opts.MinTxnLength + g.rng.Intn(g.opts.MaxTxnLength-g.opts.MinTxnLength+1)
	txn := make([]harness.Mop, 0, n)
	for range n {
		slot := exponential(g.rng, len(g.active))
		key := g.active[slot]
		if g.rng.Float64() < g.opts.ReadFraction {
			txn = append(txn, g.read(key))
			continue
		}
		g.value++
		f := harness.MWrite
		if g.list {
			f = harness.MAppend
		}
		txn = append(txn, harness.Mop{F: f, Key: key, Value: harness.Str(strconv.Itoa(g.value))})
		g.writes[key]++
		if g.writes[key] >= g.opts.MaxWritesPerKey {
			delete(g.writes, key)
			g.active[slot] = g.newKey()
		}
	}
	return harness.Op{F: harness.FTxn, Txn: txn}
}

// FinalRead reads key in a transaction of its own after the heal.
func (g *txnGen) FinalRead(key string) harness.Op {
	return harness.Op{F: harness.FTxn, Txn: []harness.Mop{g.read(key)}}
}

// exponential draws an index below n, each half as likely as the one
// before it.
func exponential(rng *rand.Rand, n int) int {
	// P(i) = 2^-i / (2 - 2^(1-n)): invert the cumulative distribution.
	u := rng.Float64() * (1 - 1/float64(uint64(1)<<min(n, 62)))
	i := 0
	for p := 0.5; u >= p && i < n-1; p /= 2 {
		u -= p
		i++
	}
	return i
}
