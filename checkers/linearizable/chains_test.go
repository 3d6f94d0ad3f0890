package linearizable

import (
	"math/rand"
	"sort"
	"strconv"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// randomRWC makes a small one-key history of reads, writes and cas with
// unique written values on a coarse time grid (ops often touch): each op
// takes effect at a random instant of its interval (info ops later or
// never), then a few results are corrupted, so that about half the
// histories are not linearizable.
func randomRWC(rng *rand.Rand, clients, n int) h.History {
	free := make([]int64, clients)
	procs := make([]int, clients)
	for i := range procs {
		procs[i] = i
	}
	var written []string
	ops := make([]sop, 0, n)
	for i := 0; i < n; i++ {
		c := rng.Intn(clients)
		so := sop{op: h.Op{Process: h.Process(procs[c]), Key: "k"}, typ: h.OK}
		so.start = free[c] + int64(rng.Intn(3))
		so.end = so.start + int64(rng.Intn(4))
		so.lin = so.start + rng.Int63n(so.end-so.start+1)
		switch x := rng.Intn(10); {
		case x < 4:
			so.op.F = h.FRead
		case x < 7 || len(written) == 0:
			so.op.F, so.op.Value = h.FWrite, h.Str(strconv.Itoa(i))
		default:
			from := written[max(0, len(written)-1-rng.Intn(3))]
			so.op.F, so.op.From, so.op.Value = h.FCAS, h.Str(from), h.Str(strconv.Itoa(i))
		}
		if so.op.Value != nil {
			written = append(written, *so.op.Value)
		}
		if so.op.F != h.FRead && rng.Intn(6) == 0 {
			so.typ = h.Info
			so.lin = so.start + rng.Int63n(20)
			if rng.Intn(3) == 0 {
				so.lin = never
			}
			procs[c] += clients
		}
		free[c] = so.end + 1
		ops = append(ops, so)
	}
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ops[order[a]].lin < ops[order[b]].lin })
	var reg *string
	for _, i := range order {
		so := &ops[i]
		switch {
		case so.lin == never:
		case so.op.F == h.FRead:
			so.op.Value = reg
		case so.op.F == h.FWrite:
			reg = so.op.Value
		case reg != nil && *reg == *so.op.From:
			reg = so.op.Value
		case so.typ == h.OK:
			so.typ = h.Fail
		}
	}
	for i := range ops {
		if rng.Intn(25) != 0 || len(written) == 0 {
			continue
		}
		switch so := &ops[i]; so.op.F {
		case h.FRead:
			so.op.Value = h.Str(written[rng.Intn(len(written))])
		case h.FCAS:
			so.typ = h.OK
			so.op.From = h.Str(written[rng.Intn(len(written))])
		}
	}
	return rwcEvents(ops)
}

// sop is a simulated op of randomRWC.
type sop struct {
	op         h.Op
	start, end int64
	lin        int64
	typ        h.Type
}

// rwcEvents turns ops into a history, invocations before completions at
// equal times.
func rwcEvents(ops []sop) h.History {
	var evs []ev
	for _, so := range ops {
		inv, comp := so.op, so.op
		inv.Type, inv.Time = h.Invoke, so.start
		comp.Type, comp.Time = so.typ, so.end
		if so.op.F == h.FRead {
			inv.Value = nil
		}
		evs = append(evs, ev{inv, so.start, 0}, ev{comp, so.end, 1})
	}
	return gridHistory(evs)
}

// Chains decide exactly what porcupine decides on every op (no pruning),
// on small histories with cas and info ops, from absent and from a present
// initial value, and explain every violation.
func TestChainsAgreeWithPorcupine(t *testing.T) {
	counts := agreement{
		gen: func(rng *rand.Rand) h.History { return randomRWC(rng, 2+rng.Intn(4), 4+rng.Intn(16)) },
		adapt: func(rng *rand.Rand, hh h.History, initial *string) {
			readsOfNothingReadInitial(rng, hh, initial)
			for j, op := range hh {
				if op.F == h.FCAS && op.From != nil && rng.Intn(3) == 0 {
					hh[j].From = initial // some cas expect it
				}
			}
		},
		applies:  chainsApply,
		decide:   chainsCheck,
		unpruned: true,
	}.run(t, 7, 20000)
	assert.Greater(t, counts[porcupine.Ok], 4000)
	assert.Greater(t, counts[porcupine.Illegal], 4000)
}

// docs/quorum.md's violation: a cas whose read and write straddled two
// writes. No pair of ops proves it; the chains do (64, then the cas to 80
// and its read, held k0 throughout the write of 82).
func TestChainExplanationQuorumCAS(t *testing.T) {
	b := &hist{}
	b.add(0.100, 0, h.Invoke, h.FWrite, "k0", s("64")).add(0.110, 0, h.OK, h.FWrite, "k0", s("64"))
	b.add(0.130, 1, h.Invoke, h.FRead, "k0", nil)
	b.cas(0.1356, 2, h.Invoke, "k0", "64", "80")
	b.add(0.1402, 1, h.OK, h.FRead, "k0", s("64"))
	b.add(0.1402, 3, h.Invoke, h.FWrite, "k0", s("82"))
	b.add(0.1480, 4, h.Invoke, h.FWrite, "k0", s("88"))
	b.add(0.1506, 3, h.OK, h.FWrite, "k0", s("82"))
	b.cas(0.1522, 2, h.OK, "k0", "64", "80")
	b.add(0.1548, 4, h.OK, h.FWrite, "k0", s("88"))
	b.add(0.1576, 5, h.Invoke, h.FRead, "k0", nil).add(0.1604, 5, h.OK, h.FRead, "k0", s("80"))
	r, d := run(t, b.h, Options{})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Equal(t, 1, d.Zoned)
	a := r.Anomalies[0]
	t.Log(a.Explanation)
	assert.Contains(t, a.Explanation, "the values from 64 on")
	assert.Contains(t, a.Explanation, "cannot both be placed")
	assert.NotEmpty(t, a.Ops)
}
