package harness

import (
	"context"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// observingWorkload's generator watches completions and has final reads of
// its own: it issues writes until one is ok, then reads, and reads every
// key after the heal with F "final".
type observingWorkload struct{ kvWorkload }

func (w observingWorkload) Generator(rng *rand.Rand) Generator {
	return &observingGen{kvGen: w.kvWorkload.Generator(rng).(*kvGen)}
}

type observingGen struct {
	*kvGen
	acked    bool
	seen     atomic.Int64 // completions observed
	inFlight int          // Next calls minus Observe calls: guarded by the runner's lock
	maxNext  int
}

func (g *observingGen) Next(p Process) Op {
	g.inFlight++
	g.maxNext = max(g.maxNext, g.inFlight)
	if !g.acked {
		return Op{F: FWrite, Key: "k0", Value: Str("first")}
	}
	return Op{F: FRead, Key: "k0"}
}

func (g *observingGen) Observe(done Op) {
	g.inFlight--
	g.seen.Add(1)
	if done.Type == OK && done.F == FWrite {
		g.acked = true
	}
}

func (g *observingGen) Keys() []string { return []string{"k0"} }

func (g *observingGen) FinalRead(key string) Op {
	return Op{F: FRead, Key: key, Value: Str("final-read")}
}

func TestObserverSeesEveryCompletionAndFinalReadIsUsed(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	var gen *observingGen
	w := observingWorkload{kvWorkload{keys: 1, checkers: []Checker{&countChecker{}}}}
	p.Workload = genHook{w, func(g Generator) { gen = g.(*observingGen) }}
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	require.NotNil(t, gen)
	hist, err := ReadHistory(runDir(t, tst.Out) + "/" + HistoryFile)
	require.NoError(t, err)

	var mainCompletions, finals int64
	recovery := map[Process]bool{}
	firstOK := -1
	for i, op := range hist {
		if op.IsNemesis() {
			continue
		}
		if op.Type == Invoke {
			if op.Value != nil && *op.Value == "final-read" {
				finals++ // a recovery read: the generator's invocation
				recovery[op.Process] = true
			}
			continue
		}
		if recovery[op.Process] {
			continue
		}
		mainCompletions++
		if op.Type == OK && op.F == FWrite && firstOK < 0 {
			firstOK = i
		}
	}
	assert.Positive(t, finals, "the recovery phase read with the generator's FinalRead")
	assert.Equal(t, mainCompletions, gen.seen.Load(), "every main-phase completion was observed")
	require.GreaterOrEqual(t, firstOK, 0)
	reads := 0
	for _, op := range hist[firstOK:] {
		if op.Type == Invoke && op.F == FRead && !recovery[op.Process] {
			reads++
		}
	}
	assert.Positive(t, reads, "once a write was acknowledged the generator read")
	assert.LessOrEqual(t, gen.maxNext, 4, "no worker had two ops outstanding")
	assert.Equal(t, Valid, res.Verdict, "%+v", res.Checkers)
}

// genHook hands the test the generator the runner made.
type genHook struct {
	Workload
	got func(Generator)
}

func (w genHook) Generator(rng *rand.Rand) Generator {
	g := w.Workload.Generator(rng)
	w.got(g)
	return g
}

type gapSystem struct{ *memSystem }

func (gapSystem) Features() []Feature { return []Feature{FeatureSet} }
func (gapSystem) Lacks(f Feature) string {
	if f == FeatureTxnAppend {
		return "its replicas apply each key independently"
	}
	return ""
}

type needyWorkload struct{ kvWorkload }

func (needyWorkload) Needs() []Feature { return []Feature{FeatureTxnAppend} }

func TestServesSaysWhyASystemLacksAFeature(t *testing.T) {
	tst, p, sys, _, _ := testParts(t)
	p.System = gapSystem{sys}
	p.Workload = needyWorkload{kvWorkload{keys: 1}}
	_, err := Run(context.Background(), tst, p)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	msg := err.Error()
	assert.True(t, strings.Contains(msg, `needs txn-append, which system "mem" does not offer (its clients perform read, write, cas and set): its replicas apply each key independently`), msg)
}

func TestConsistencyOf(t *testing.T) {
	assert.Equal(t, "", ConsistencyOf(newMemSystem()))
	assert.Equal(t, "serializable", ConsistencyOf(promising{newMemSystem()}))
}

type promising struct{ *memSystem }

func (promising) Consistency() string { return "serializable" }

func TestWorkloadKnobsReplayAndValidate(t *testing.T) {
	tst := Test{Workload: "list-append", Keys: 3, MinTxnLength: 2, MaxTxnLength: 6, MaxWritesPerKey: 8,
		Accounts: 4, Consistency: "serializable", Seed: 1}.WithDefaults()
	line := tst.CommandLine()
	for _, want := range []string{"--keys 3", "--min-txn-length 2", "--max-txn-length 6", "--max-writes-per-key 8",
		"--accounts 4", "--consistency serializable"} {
		assert.Contains(t, line, want)
	}
	assert.NotContains(t, Test{Seed: 1}.WithDefaults().CommandLine(), "--keys", "defaults stay off the line")
	err := Test{Keys: -1, Accounts: -2}.WithDefaults().Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "keys must not be negative")
	assert.Contains(t, err.Error(), "accounts must not be negative")
}
