package jepsen

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
)

// A generator of labelled histories. A simulated store applies each op
// atomically at a moment between its invocation and completion, so every
// history it records is linearizable by construction; the invalid variants
// break it in ways no linearization can explain (a read of a value nobody
// wrote; more acquires in a row than releases that could separate them).

// gop is one generated op; value is EDN text.
type gop struct {
	process int
	typ, f  string
	value   string
}

type genPending struct {
	proc    int // the process that invoked it
	f, inv  string
	applied bool
	failed  bool
	result  string
}

type gen struct {
	rng     *rand.Rand
	model   Model
	procs   int
	initial bool // registers start at 0 (--initial 0 / {:x 0 :y 0})
	reg     *int
	regs    map[string]int
	holder  int // the process holding the lock, -1: free
	ops     []gop
	pend    map[int]*genPending
	ids     []int // the process id of each worker (a new one after :info)
}

func newGen(seed int64, model Model, procs int, initial bool) *gen {
	g := &gen{rng: rand.New(rand.NewSource(seed)), model: model, procs: procs, initial: initial,
		regs: map[string]int{}, pend: map[int]*genPending{}}
	if initial {
		zero := 0
		g.reg = &zero
		g.regs["x"], g.regs["y"] = 0, 0
	}
	for i := 0; i < procs; i++ {
		g.ids = append(g.ids, i)
	}
	g.holder = -1
	return g
}

// run records about n ops (invocations and completions).
func (g *gen) run(n int) []gop {
	for len(g.ops) < n {
		w := g.rng.Intn(g.procs)
		p := g.pend[w]
		switch {
		case p == nil:
			g.invoke(w)
		case !p.applied && !p.failed && g.rng.Intn(10) == 0:
			g.complete(w, "info") // never applied
		case !p.applied && !p.failed:
			g.apply(p)
		case g.rng.Intn(12) == 0 && !p.failed:
			g.complete(w, "info") // applied, outcome unknown
		case p.failed:
			g.complete(w, "fail")
		default:
			g.complete(w, "ok")
		}
	}
	return g.ops
}

func (g *gen) invoke(w int) {
	p := &genPending{proc: g.ids[w]}
	v := strconv.Itoa(g.rng.Intn(5))
	switch g.model {
	case Register, CASRegister:
		switch r := g.rng.Intn(3); {
		case r == 0:
			p.f, p.inv = "read", "nil"
		case r == 1 || g.model == Register:
			p.f, p.inv = "write", v
		default:
			p.f, p.inv = "cas", fmt.Sprintf("[%d %s]", g.rng.Intn(5), v)
		}
	case Mutex:
		p.f, p.inv = "acquire", "nil"
		if g.rng.Intn(2) == 0 {
			p.f = "release"
		}
	case MultiRegister:
		p.f, p.inv = "txn", g.txn()
	}
	g.pend[w] = p
	g.ops = append(g.ops, gop{g.ids[w], "invoke", p.f, p.inv})
}

// txn is one to three random micro-ops on :x and :y.
func (g *gen) txn() string {
	var mops []string
	for i := 0; i <= g.rng.Intn(3); i++ {
		k := []string{"x", "y"}[g.rng.Intn(2)]
		if g.rng.Intn(2) == 0 {
			mops = append(mops, "[:r :"+k+" nil]")
		} else {
			mops = append(mops, fmt.Sprintf("[:w :%s %d]", k, g.rng.Intn(5)))
		}
	}
	return "[" + strings.Join(mops, " ") + "]"
}

// apply is the op's moment of effect in the simulated store.
func (g *gen) apply(p *genPending) {
	p.applied, p.result = true, p.inv
	switch p.f {
	case "read":
		p.result = "nil"
		if g.reg != nil {
			p.result = strconv.Itoa(*g.reg)
		}
	case "write":
		n, _ := strconv.Atoi(p.inv)
		g.reg = &n
	case "cas":
		var from, to int
		fmt.Sscanf(p.inv, "[%d %d]", &from, &to)
		if g.reg == nil || *g.reg != from {
			p.applied, p.failed = false, true
			return
		}
		g.reg = &to
	case "acquire":
		if g.holder != -1 {
			p.applied, p.failed = false, true
			return
		}
		g.holder = p.proc
	case "release": // only by its holder: the lock knows owners
		if g.holder != p.proc {
			p.applied, p.failed = false, true
			return
		}
		g.holder = -1
	case "txn":
		p.result = g.applyTxn(p.inv)
	}
}

func (g *gen) applyTxn(inv string) string {
	mops := strings.Split(strings.Trim(inv, "[]"), "] [")
	for i, m := range mops {
		var f, k, v string
		fmt.Sscanf(m, "%s %s %s", &f, &k, &v)
		k = strings.TrimPrefix(k, ":")
		if f == ":w" {
			n, _ := strconv.Atoi(v)
			g.regs[k] = n
			continue
		}
		v = "nil"
		if n, ok := g.regs[k]; ok {
			v = strconv.Itoa(n)
		}
		mops[i] = fmt.Sprintf(":r :%s %s", k, v)
	}
	return "[[" + strings.Join(mops, "] [") + "]]"
}

func (g *gen) complete(w int, typ string) {
	p := g.pend[w]
	v := p.inv
	if typ == "ok" {
		v = p.result
	}
	g.ops = append(g.ops, gop{g.ids[w], typ, p.f, v})
	delete(g.pend, w)
	if typ == "info" {
		g.ids[w] += g.procs // Jepsen gives a crashed worker a new process
	}
}

// finish completes every pending op as info, as a history cut off at the
// end of a test leaves them.
func (g *gen) finish() []gop {
	ws := make([]int, 0, len(g.pend))
	for w := range g.pend {
		ws = append(ws, w)
	}
	sort.Ints(ws)
	for _, w := range ws {
		g.complete(w, "info")
	}
	return g.ops
}

// breakIt makes the history invalid.
func (g *gen) breakIt() {
	fresh := 1000 + g.procs
	switch g.model {
	case Register, CASRegister:
		if g.rng.Intn(2) == 0 { // a stale read at the end: 777777 was overwritten
			g.ops = append(g.ops, seq(fresh, "write", "777777", "777777")...)
			g.ops = append(g.ops, seq(fresh, "write", "888888", "888888")...)
			g.ops = append(g.ops, seq(fresh, "read", "nil", "777777")...)
			return
		}
		for i := range g.ops {
			if op := &g.ops[i]; op.typ == "ok" && op.f == "read" && g.rng.Intn(3) == 0 {
				op.value = "999999"
				return
			}
		}
		g.ops = append(g.ops, seq(fresh, "read", "nil", "999999")...)
	case MultiRegister:
		if g.rng.Intn(2) == 0 {
			g.ops = append(g.ops, seq(fresh, "txn", "[[:w :y 777777]]", "[[:w :y 777777]]")...)
			g.ops = append(g.ops, seq(fresh, "txn", "[[:w :y 888888] [:r :x nil]]", "[[:w :y 888888] [:r :x nil]]")...)
			g.ops = append(g.ops, seq(fresh, "txn", "[[:r :y nil]]", "[[:r :y 777777]]")...)
			return
		}
		g.ops = append(g.ops, seq(fresh, "txn", "[[:r :x nil]]", "[[:r :x 999999]]")...)
	case Mutex:
		// Each info release can separate at most one pair of acquires.
		releases := 0
		for _, op := range g.ops {
			if op.typ == "info" && op.f == "release" {
				releases++
			}
		}
		for i := 0; i < releases+2; i++ {
			g.ops = append(g.ops, gop{fresh, "invoke", "acquire", "nil"}, gop{fresh, "ok", "acquire", "nil"})
		}
	}
}

// seq is an op invoked and completed ok before anything else happens.
func seq(p int, f, inv, ok string) []gop {
	return []gop{{p, "invoke", f, inv}, {p, "ok", f, ok}}
}

// independent wraps histories of several keys as Jepsen's independent
// generator records them: one key after another, values as [k v] tuples,
// each key with processes of its own.
func independent(perKey [][]gop) []gop {
	var out []gop
	for k, ops := range perKey {
		for _, o := range ops {
			o.process += 100000 * k
			o.value = fmt.Sprintf("[%d %s]", k, o.value)
			out = append(out, o)
		}
	}
	return out
}
