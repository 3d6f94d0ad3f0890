package mutex

import (
	"math/rand"
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// The claim of the package doc, tested: on histories of acquires and
// releases without failed releases, the checker's verdict is exactly that
// of a linearizability search of a lock with owners (porcupine, as Knossos
// would search it with owners added).

type lin struct {
	p       int
	acquire bool
	known   bool
}

var ownerModel = porcupine.Model{
	Init: func() interface{} { return -1 },
	Step: func(st, in, _ interface{}) (bool, interface{}) {
		holder, op := st.(int), in.(lin)
		switch {
		case op.acquire && holder == -1:
			return true, op.p
		case !op.acquire && holder == op.p:
			return true, -1
		}
		return !op.known, holder // an unknown op may not happen
	},
	Equal: func(a, b interface{}) bool { return a == b },
}

func linearizable(hh h.History) bool {
	var ops []porcupine.Operation
	for _, pr := range hh.Pairs() {
		op := porcupine.Operation{ClientId: int(pr.Invoke.Process), Call: pr.Invoke.Time, Return: 1 << 62,
			Input: lin{p: int(pr.Invoke.Process), acquire: pr.Invoke.F == FAcquire}}
		switch {
		case pr.Completion == nil || pr.Completion.Type == h.Info:
		case pr.Completion.Type == h.Fail:
			continue
		default:
			op.Return = pr.Completion.Time
			in := op.Input.(lin)
			in.known = true
			op.Input = in
		}
		ops = append(ops, op)
	}
	return porcupine.CheckOperations(ownerModel, ops)
}

// randomHistory: procs workers issue acquires and releases (a worker that
// believes it holds releases); outcomes are drawn at random, or, when sim,
// from a lock applied at a random moment of each op (valid by
// construction). A worker gets a new process after an info, as the runner
// and Jepsen do; no release fails.
func randomHistory(rng *rand.Rand, procs, events int, sim bool) h.History {
	type pend struct {
		f       string
		applied bool
		refused bool
	}
	var out h.History
	ids := make([]h.Process, procs)
	holds := make([]bool, procs)
	pending := make([]*pend, procs)
	for i := range ids {
		ids[i] = h.Process(i)
	}
	holder := h.Process(-1)
	add := func(w int, t h.Type, f string) {
		out = append(out, h.Op{Index: len(out), Process: ids[w], Type: t, F: f, Time: int64(len(out))})
	}
	for len(out) < events {
		w := rng.Intn(procs)
		p := pending[w]
		switch {
		case p == nil:
			f := FAcquire
			if holds[w] {
				f = FRelease
			}
			pending[w] = &pend{f: f}
			add(w, h.Invoke, f)
		case sim && !p.applied && !p.refused && rng.Intn(2) == 0:
			switch {
			case p.f == FAcquire && holder == -1:
				holder, p.applied = ids[w], true
			case p.f == FRelease && holder == ids[w]:
				holder, p.applied = -1, true
			case p.f == FAcquire:
				p.refused = true
			}
		default:
			var t h.Type
			switch {
			case rng.Intn(6) == 0:
				t = h.Info
			case !sim && p.f == FRelease:
				t = h.OK
			case !sim:
				t = []h.Type{h.OK, h.Fail}[rng.Intn(2)]
			case p.refused:
				t = h.Fail
			case p.applied:
				t = h.OK
			default:
				continue // not applied yet
			}
			add(w, t, p.f)
			pending[w] = nil
			if t == h.OK {
				holds[w] = p.f == FAcquire
			}
			if t == h.Info {
				ids[w] += h.Process(procs)
				holds[w] = false
			}
		}
	}
	return out
}

func TestAgreesWithOwnerLinearizability(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	counts := map[bool]int{}
	for i := range 3000 {
		sim := i%2 == 0
		hh := randomHistory(rng, 2+rng.Intn(3), 4+rng.Intn(14), sim)
		want := linearizable(hh)
		got := check(hh).Validity == h.Valid
		require.Equal(t, want, got, "history %d (sim %t): linearizable %t, checker %s\n%v", i, sim, want, check(hh).Summary, hh)
		if sim {
			require.True(t, got, "a simulated lock's history is valid")
		}
		counts[want]++
	}
	require.Greater(t, counts[false], 300, "enough invalid histories to mean something")
}
