package isolation

import (
	"context"
	"encoding/json"
	"flag"
	"math/rand"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Small random histories held against a brute-force search over orders of
// the transactions: what porcupine is to the register checker. The checker
// must never rule out a model for which a serial order exists (soundness);
// for list-append it must rule out every model for which none does
// (completeness).

var bruteN = flag.Int("brute", 3000, "random histories per model in TestBruteForce")

// simTxn is a transaction of a simulated database.
type simTxn struct {
	proc      int
	mops      []harness.Mop // as invoked
	inv, comp int           // event numbers
	typ       harness.Type
	readAt    []int // per micro-op: the time its read sees
	writeAt   []int // per micro-op: the time its write lands
	results   []harness.Mop
	applied   bool
}

type simEvent struct {
	t   *simTxn
	inv bool
}

// simulate makes a random history: processes run transactions one at a
// time; a mode decides when reads see the database and when writes land,
// from correct (both at one point inside the transaction) to broken.
func simulate(rng *rand.Rand, m Model) harness.History {
	nProc := 2 + rng.Intn(3)
	nTxn := 2 + rng.Intn(5)
	keys := []string{"x", "y", "z"}[:1+rng.Intn(3)]
	mode := rng.Intn(6)
	next := map[string]int{}
	running := make([]*simTxn, nProc)
	var txns []*simTxn
	var events []simEvent
	busy := func() bool {
		for _, t := range running {
			if t != nil {
				return true
			}
		}
		return false
	}
	for len(txns) < nTxn || busy() {
		p := rng.Intn(nProc)
		if t := running[p]; t != nil {
			t.comp = len(events)
			events = append(events, simEvent{t, false})
			running[p] = nil
			continue
		}
		if len(txns) == nTxn {
			continue
		}
		t := &simTxn{proc: p, inv: len(events)}
		for i, n := 0, 1+rng.Intn(3); i < n; i++ {
			k := keys[rng.Intn(len(keys))]
			if rng.Intn(2) == 0 {
				t.mops = append(t.mops, harness.Mop{F: harness.MRead, Key: k})
				continue
			}
			next[k]++
			f := harness.MAppend
			if m == RWRegister {
				f = harness.MWrite
			}
			t.mops = append(t.mops, harness.Mop{F: f, Key: k, Value: harness.Str(strconv.Itoa(next[k]))})
		}
		running[p] = t
		txns = append(txns, t)
		events = append(events, simEvent{t, true})
	}
	end := len(events) * 10
	for _, t := range txns {
		switch x := rng.Intn(10); {
		case x < 6:
			t.typ = harness.OK
		case x < 8:
			t.typ = harness.Info
		default:
			t.typ = harness.Fail
		}
		lo, hi := t.inv*10+1, t.comp*10-1
		within := func() int { return lo + rng.Intn(hi-lo+1) }
		point := within()
		t.readAt = make([]int, len(t.mops))
		t.writeAt = make([]int, len(t.mops))
		for i := range t.mops {
			t.readAt[i], t.writeAt[i] = point, point
			switch mode {
			case 1: // snapshot: read at the start, write at the commit
				t.readAt[i], t.writeAt[i] = lo, hi
			case 2: // some stale reads
				if rng.Intn(3) == 0 {
					t.readAt[i] = rng.Intn(point + 1)
				}
			case 3: // writes land one by one
				t.writeAt[i] = within()
			case 4: // each read at its own time
				t.readAt[i] = within()
			case 5: // anything
				t.readAt[i] = rng.Intn(hi + 1)
				t.writeAt[i] = rng.Intn(end)
			}
		}
		t.applied = !(t.typ == harness.Fail && rng.Intn(8) != 0 || t.typ == harness.Info && rng.Intn(2) == 0)
		if t.typ == harness.Info && t.applied && rng.Intn(2) == 0 {
			for i := range t.writeAt {
				t.writeAt[i] = hi + rng.Intn(50) // lands after the info
			}
		}
	}
	type write struct {
		at   int
		t    *simTxn
		k, v string
	}
	var writes []write
	for _, t := range txns {
		for i, mo := range t.mops {
			if t.applied && mo.F != harness.MRead {
				writes = append(writes, write{at: t.writeAt[i]*100 + i, t: t, k: mo.Key, v: *mo.Value})
			}
		}
	}
	sort.Slice(writes, func(i, j int) bool { return writes[i].at < writes[j].at })
	for _, t := range txns {
		t.results = slices.Clone(t.mops)
		for i, mo := range t.mops {
			if mo.F != harness.MRead {
				continue
			}
			var state []string
			for _, w := range writes {
				if w.k == mo.Key && w.t != t && w.at < t.readAt[i]*100 {
					state = append(state, w.v)
				}
			}
			for _, o := range t.mops[:i] {
				if o.F != harness.MRead && o.Key == mo.Key {
					state = append(state, *o.Value)
				}
			}
			if mode == 5 && len(state) > 0 && rng.Intn(10) == 0 {
				state[rng.Intn(len(state))] = "99" // garbage
			}
			if mode == 5 && len(state) > 1 && rng.Intn(10) == 0 {
				state[0], state[1] = state[1], state[0]
			}
			if m == ListAppend {
				t.results[i].List = state
			} else if len(state) > 0 {
				t.results[i].Value = harness.Str(state[len(state)-1])
			}
		}
	}
	var h harness.History
	for i, e := range events {
		op := harness.Op{Index: i, Process: harness.Process(e.t.proc), F: harness.FTxn, Time: int64(i) * 1e6, Type: harness.Invoke, Txn: e.t.mops}
		if !e.inv {
			op.Type = e.t.typ
			if e.t.typ == harness.OK {
				op.Txn = e.t.results
			}
		}
		h = append(h, op)
	}
	return h
}

// bruteTxn is a transaction as the brute force sees it.
type bruteTxn struct {
	typ       harness.Type
	proc      harness.Process
	inv, comp int // positions; comp max when never completed
	mops      []harness.Mop
}

// brute says whether some order of the committed transactions (ok ones,
// and any subset of info ones) explains every ok read: serializable; and
// whether one also keeps each process's order (strong session) and real
// time (strict).
func brute(h harness.History, m Model) (ser, session, strict bool) {
	var txns []bruteTxn
	open := map[harness.Process]int{}
	for i, op := range h {
		if op.Type == harness.Invoke {
			open[op.Process] = len(txns)
			txns = append(txns, bruteTxn{typ: harness.Info, proc: op.Process, inv: i, comp: 1 << 30, mops: op.Txn})
			continue
		}
		t := &txns[open[op.Process]]
		t.typ, t.comp = op.Type, i
		if op.Type == harness.OK {
			t.mops = op.Txn
		}
	}
	var must, may []int
	for i, t := range txns {
		switch t.typ {
		case harness.OK:
			must = append(must, i)
		case harness.Info:
			may = append(may, i)
		}
	}
	for sub := 0; sub < 1<<len(may); sub++ {
		set := slices.Clone(must)
		for j, i := range may {
			if sub&(1<<j) != 0 {
				set = append(set, i)
			}
		}
		permute(set, 0, func(order []int) {
			if ser && session && strict {
				return
			}
			if !replay(txns, order, m) {
				return
			}
			ser = true
			sess, rt := true, true
			for a := 0; a < len(order); a++ {
				for b := a + 1; b < len(order); b++ {
					x, y := txns[order[a]], txns[order[b]]
					// y before x in the order: wrong if x had to come first.
					if y.typ == harness.OK && y.comp < x.inv {
						rt = false
						if y.proc == x.proc {
							sess = false
						}
					}
				}
			}
			session = session || sess
			strict = strict || rt
		})
	}
	return ser, session, strict
}

func permute(xs []int, i int, f func([]int)) {
	if i == len(xs) {
		f(xs)
		return
	}
	for j := i; j < len(xs); j++ {
		xs[i], xs[j] = xs[j], xs[i]
		permute(xs, i+1, f)
		xs[i], xs[j] = xs[j], xs[i]
	}
}

// replay runs the transactions serially in order and says whether every ok
// transaction's reads return what they returned.
func replay(txns []bruteTxn, order []int, m Model) bool {
	state := map[string][]string{}
	for _, i := range order {
		t := txns[i]
		for _, mo := range t.mops {
			switch mo.F {
			case harness.MAppend, harness.MWrite:
				state[mo.Key] = append(state[mo.Key], *mo.Value)
			case harness.MRead:
				if t.typ != harness.OK {
					continue
				}
				s := state[mo.Key]
				if m == ListAppend {
					if !slices.Equal(s, mo.List) {
						return false
					}
					continue
				}
				var last *string
				if len(s) > 0 {
					last = &s[len(s)-1]
				}
				if (last == nil) != (mo.Value == nil) || last != nil && *last != *mo.Value {
					return false
				}
			}
		}
	}
	return true
}

func TestBruteForce(t *testing.T) {
	for _, m := range []Model{ListAppend, RWRegister} {
		t.Run(string(m), func(t *testing.T) {
			rng := rand.New(rand.NewSource(1))
			var agree, total int
			none := map[string]int{} // histories for which no order exists
			disagree := map[string]int{}
			for i := 0; i < *bruteN; i++ {
				h := simulate(rng, m)
				ser, session, strict := brute(h, m)
				res := New(Options{Model: m}).Check(context.Background(), harness.CheckInput{History: h})
				if len(res.Details) == 0 {
					require.Contains(t, res.Summary, "no committed transaction")
					continue
				}
				var d Details
				require.NoError(t, json.Unmarshal(res.Details, &d), res.Summary)
				out := map[string]bool{}
				for _, x := range d.RuledOut {
					out[x] = true
				}
				total++
				for model, exists := range map[string]bool{Serializable: ser, StrongSessionSerializable: session, StrictSerializable: strict} {
					if !exists {
						none[model]++
					}
				}
				ok := true
				for _, c := range []struct {
					model  string
					exists bool
				}{{Serializable, ser}, {StrongSessionSerializable, session}, {StrictSerializable, strict}} {
					switch {
					case c.exists && out[c.model]:
						t.Errorf("unsound: %s ruled out, but a serial order exists\n%s\n%s", c.model, res.Summary, dump(h, res))
						ok = false
					case !c.exists && !out[c.model]:
						disagree[c.model]++
						ok = false
						if m == ListAppend {
							t.Errorf("incomplete: %s holds for no order, but was not ruled out\n%s\n%s", c.model, res.Summary, dump(h, res))
						}
					}
				}
				if ok {
					agree++
				}
				if t.Failed() {
					return
				}
			}
			t.Logf("%s: %d histories (no serial order: %v); the checker agreed with the brute force on %d (%.2f%%); not ruled out though no order exists: %v",
				m, total, none, agree, 100*float64(agree)/float64(total), disagree)
		})
	}
}

func dump(h harness.History, res harness.Result) string {
	var b strings.Builder
	for _, op := range h {
		b.WriteString(op.String() + "\n")
	}
	for _, a := range res.Anomalies {
		b.WriteString("  " + a.Explanation + "\n")
	}
	return b.String()
}
