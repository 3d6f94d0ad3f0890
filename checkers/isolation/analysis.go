package isolation

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// analysis is the second pass: version orders, edges, cycles.
type analysis struct {
	s     *Stream
	ctx   context.Context
	e     edges
	nodes int32 // nodes so far; virtual ones are numbered after the transactions

	// list-append: every key's version order, flattened
	L                                   []int64
	lStart                              []int32 // key k's order is L[lStart[k]:lStart[k+1]]
	lastGood, firstFail, firstUnwritten []int32 // per key
	posWriter, nextGood                 []int32 // per position of L
	unjudged                            int     // keys with a value appended twice

	g         *graph
	budget    int64
	unlimited bool // the search under way is linear: no budget
	uncertain int  // the weakest model a cut search left undecided

	// bfs scratch
	prev, dist []int32
	mark       []uint32
	stamp      uint32
	dq         deque

	stats struct{ sccs, largest int }
}

func (a *analysis) virtual() int32 {
	v := a.nodes
	a.nodes++
	return v
}

func (a *analysis) run() error {
	s := a.s
	nT := int32(len(s.txns))
	a.nodes = nT + int32(len(s.barrierEnd))
	var err error
	if s.o.Model == ListAppend {
		a.versionOrders()
		err = a.listEdges()
	} else {
		err = a.registerEdges()
	}
	if err != nil {
		return err
	}
	a.orderEdges(nT)
	a.g = build(int(a.nodes), int(nT), &a.e)
	return a.searchCycles()
}

// orderEdges adds process order and the real-time barrier chain.
func (a *analysis) orderEdges(nT int32) {
	s := a.s
	for _, p := range s.procEdges {
		a.e.add(p[0], p[1], kProc)
	}
	start := int32(0)
	for b, end := range s.barrierEnd {
		bn := nT + int32(b)
		for _, t := range s.barrierMembers[start:end] {
			a.e.add(t, bn, kRT)
		}
		if b > 0 {
			a.e.add(bn-1, bn, kPass)
		}
		start = end
	}
	for t := range s.txns {
		if tx := &s.txns[t]; tx.typ != tFail && tx.rtIn >= 0 {
			a.e.add(nT+tx.rtIn, int32(t), kPass)
		}
	}
}

// Details is the checker's machine-readable result (Result.Details).
type Details struct {
	Model       Model          `json:"model"`
	Consistency string         `json:"consistency"`
	RuledOut    []string       `json:"ruled_out"`           // models the history rules out
	MaySatisfy  []string       `json:"may_satisfy"`         // models it does not rule out
	Undecided   []string       `json:"undecided,omitempty"` // models a cut search left open
	Counts      map[string]int `json:"anomaly_counts,omitempty"`
	Cycles      []Cycle        `json:"cycles,omitempty"` // the first cycles, each a strongly connected component's
	Stats       Stats          `json:"stats"`
	Note        string         `json:"note,omitempty"`
}

// Cycle is one dependency cycle: its transactions and the edges between
// them, each with its kind and the reason it holds.
type Cycle struct {
	Anomaly string `json:"anomaly"`
	// RulesOut is the weakest model the cycle rules out.
	RulesOut string `json:"rules_out"`
	// Anomaly is the index of its entry in Result.Anomalies (-1: not listed
	// there, since it does not rule out the promised model).
	AnomalyIndex int    `json:"anomaly_index"`
	Txns         []Txn  `json:"txns"`
	Edges        []Edge `json:"edges"` // Edges[i] runs from Txns[i] to the next
}

// Txn is a transaction of a cycle.
type Txn struct {
	Name     string `json:"name"` // T1, T2, … as the explanation calls it
	Index    int    `json:"index"`
	Process  int    `json:"process"`
	Type     string `json:"type"`
	Invoke   int64  `json:"invoke"`             // ns
	Complete int64  `json:"complete,omitempty"` // ns; 0 when it never completed
	Mops     string `json:"mops"`
}

// Edge is a dependency between two transactions of a cycle.
type Edge struct {
	From   int    `json:"from"` // index into Txns
	To     int    `json:"to"`
	Kind   string `json:"kind"`           // ww, wr, rw, process, realtime
	Also   string `json:"also,omitempty"` // other kinds that hold too
	Reason string `json:"reason"`
}

// Stats describe the checked history.
type Stats struct {
	Txns    int     `json:"txns"`
	OK      int     `json:"ok"`
	Info    int     `json:"info"`
	Fail    int     `json:"fail"`
	Keys    int     `json:"keys"`
	Edges   int     `json:"edges"`
	Nodes   int     `json:"nodes"`
	SCCs    int     `json:"sccs"`
	Largest int     `json:"largest_scc"`
	Seconds float64 `json:"seconds"`
}

// Result finishes the stream and judges it.
func (s *Stream) Result(ctx context.Context) harness.Result {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	res := harness.Result{Checker: "isolation", Validity: harness.Unknown}
	if _, err := ParseModel(string(s.o.Model)); err != nil {
		res.Summary = err.Error()
		return res
	}
	want, err := ParseConsistency(s.o.Consistency)
	if err != nil {
		res.Summary = err.Error()
		return res
	}
	s.finish()
	if s.err != nil {
		res.Summary = "cannot judge this history: " + s.err.Error()
		return res
	}
	if s.count[tOK] == 0 {
		res.Summary = fmt.Sprintf("no committed transaction to judge (%d transactions: %d info, %d failed)", len(s.txns), s.count[tInfo], s.count[tFail])
		return res
	}
	a := &analysis{s: s, ctx: ctx, uncertain: lvNone}
	runErr := a.run()
	uncertain := a.uncertain
	var note []string
	if runErr != nil {
		uncertain = lvRU
		note = append(note, fmt.Sprintf("the check was cut short (%v): what it had not yet found is unknown", runErr))
	} else if a.uncertain < lvNone {
		note = append(note, fmt.Sprintf("the cycle search spent its budget of %d edge visits in a large component; from %s up the verdict is unknown", searchBudget, ladder[a.uncertain]))
	}
	if a.unjudged > 0 {
		uncertain = lvRU
		note = append(note, fmt.Sprintf("%d keys had a value appended or written twice: their versions cannot be told apart, so they were not judged", a.unjudged))
	}
	wl := level(want)
	certain := s.minLevel
	switch {
	case wl >= certain:
		res.Validity = harness.Invalid
	case wl >= uncertain:
		res.Validity = harness.Unknown
	default:
		res.Validity = harness.Valid
	}
	d := Details{Model: s.o.Model, Consistency: want, RuledOut: ruledOut(certain), Counts: s.counts, Note: strings.Join(note, "; ")}
	for l := 0; l < min(certain, uncertain); l++ {
		d.MaySatisfy = append(d.MaySatisfy, ladder[l])
	}
	for l := uncertain; l < certain && l < len(ladder); l++ {
		d.Undecided = append(d.Undecided, ladder[l])
	}
	d.Stats = Stats{Txns: len(s.txns), OK: s.count[tOK], Info: s.count[tInfo], Fail: s.count[tFail], Keys: len(s.in.keys),
		SCCs: a.stats.sccs, Largest: a.stats.largest, Seconds: time.Since(s.start).Seconds()}
	if a.g != nil {
		d.Stats.Edges, d.Stats.Nodes = a.g.edgeCount(), a.g.n
	}
	// The anomalies that rule out the promised model, most severe first.
	slices.SortStableFunc(s.found, func(x, y finding) int {
		return cmp.Or(cmp.Compare(x.ruledOutAt, y.ruledOutAt), cmp.Compare(a.findingTime(&x), a.findingTime(&y)))
	})
	for i := range s.found {
		f := &s.found[i]
		idx := -1
		if f.ruledOutAt <= wl {
			idx = len(res.Anomalies)
			res.Anomalies = append(res.Anomalies, a.anomaly(f))
		}
		if f.cycle != nil && len(d.Cycles) < maxCycleDetails {
			d.Cycles = append(d.Cycles, a.cycleDetail(f.cycle, idx))
		}
	}
	res.Summary = a.summary(res.Validity, want, certain, uncertain, note)
	res.Details, _ = json.Marshal(d)
	return res
}

const maxCycleDetails = 50

func (a *analysis) summary(v harness.Validity, want string, certain, uncertain int, note []string) string {
	s := a.s
	var counts []string
	classesFound := make([]string, 0, len(s.counts))
	for c := range s.counts {
		classesFound = append(classesFound, c)
	}
	slices.SortFunc(classesFound, func(x, y string) int {
		return cmp.Or(cmp.Compare(anomalyLevel[x], anomalyLevel[y]), strings.Compare(x, y))
	})
	for _, c := range classesFound {
		counts = append(counts, fmt.Sprintf("%s ×%d", c, s.counts[c]))
	}
	size := fmt.Sprintf("%d transactions (%d ok, %d info, %d failed) over %d keys", len(s.txns), s.count[tOK], s.count[tInfo], s.count[tFail], len(s.in.keys))
	if s.nonTxn > 0 {
		size += fmt.Sprintf("; %d ops that are not transactions were ignored", s.nonTxn)
	}
	var b strings.Builder
	switch {
	case len(counts) == 0:
		fmt.Fprintf(&b, "no anomaly in %s", size)
	default:
		fmt.Fprintf(&b, "%s in %s", strings.Join(counts, ", "), size)
	}
	switch {
	case certain == lvStrict:
		fmt.Fprintf(&b, "; rules out %s", ladder[certain])
	case certain < lvNone:
		fmt.Fprintf(&b, "; rules out %s and every stronger model", ladder[certain])
	}
	switch m := min(certain, uncertain); {
	case m >= len(ladder):
		fmt.Fprintf(&b, "; may satisfy every model up to %s", ladder[len(ladder)-1])
	case m > 0:
		fmt.Fprintf(&b, "; may satisfy %s", strings.Join(ladder[:m], ", "))
	}
	switch v {
	case harness.Valid:
		fmt.Fprintf(&b, "; %s, as promised", want)
	case harness.Invalid:
		fmt.Fprintf(&b, "; %s was promised", want)
	default:
		fmt.Fprintf(&b, "; whether it is %s is unknown", want)
	}
	if len(note) > 0 {
		b.WriteString(" (" + strings.Join(note, "; ") + ")")
	}
	return b.String()
}

// findingTime is when an anomaly could first be seen: the latest
// completion among its transactions.
func (a *analysis) findingTime(f *finding) int64 {
	var t int64
	txns := f.txns
	if len(txns) == 0 && f.mop >= 0 && int(f.mop) < len(a.s.mops) {
		txns = []int32{a.txnOfMop(f.mop)}
	}
	for _, x := range txns {
		tx := &a.s.txns[x]
		end := tx.compTime
		if tx.compIndex < 0 {
			end = tx.invTime
		}
		t = max(t, end)
	}
	return t
}

func (a *analysis) anomaly(f *finding) harness.Anomaly {
	an := harness.Anomaly{Checker: "isolation", Time: a.findingTime(f)}
	if f.cycle != nil {
		an.Explanation = a.cycleText(f.cycle)
	} else {
		an.Explanation = a.findingText(f)
	}
	txns := f.txns
	if len(txns) == 0 {
		txns = []int32{a.txnOfMop(f.mop)}
		if f.class == "incompatible-order" {
			txns = append(txns, a.txnOfMop(f.mop2))
		}
	}
	for _, t := range txns {
		inv, comp := a.ops(t)
		an.Ops = append(an.Ops, comp)
		an.Window = append(an.Window, inv, comp)
	}
	slices.SortFunc(an.Window, func(x, y harness.Op) int { return cmp.Compare(x.Index, y.Index) })
	an.Window = slices.CompactFunc(an.Window, func(x, y harness.Op) bool { return x.Index == y.Index && x.Type == y.Type })
	return an
}

// ops returns a transaction's invocation and completion: the history's own
// when the check had it, else rebuilt from what the checker kept.
func (a *analysis) ops(t int32) (inv, comp harness.Op) {
	s := a.s
	tx := &s.txns[t]
	if s.source != nil && tx.invSrc >= 0 {
		inv = s.source[tx.invSrc]
		if tx.src >= 0 {
			comp = s.source[tx.src]
		} else {
			comp = inv.Complete(harness.Info)
		}
		return inv, comp
	}
	mops := a.harnessMops(t)
	inv = harness.Op{Index: tx.invIndex, Process: harness.Process(tx.process), Type: harness.Invoke, F: harness.FTxn, Time: tx.invTime}
	for _, m := range mops {
		if m.F == harness.MRead {
			m.Value, m.List = nil, nil
		}
		inv.Txn = append(inv.Txn, m)
	}
	comp = harness.Op{Index: tx.compIndex, Process: harness.Process(tx.process), Type: harness.Type(tx.typ.String()), F: harness.FTxn, Time: tx.compTime, Txn: mops}
	if tx.compIndex < 0 {
		comp.Index, comp.Time = tx.invIndex, tx.invTime
	}
	return inv, comp
}

// harnessMops rebuilds a transaction's micro-ops.
func (a *analysis) harnessMops(t int32) []harness.Mop {
	s := a.s
	in := s.in
	tx := &s.txns[t]
	var out []harness.Mop
	for i, m := range a.mopsOf(t) {
		hm := harness.Mop{Key: in.keys[m.key]}
		switch m.n {
		case mAppend:
			hm.F, hm.Value = harness.MAppend, harness.Str(in.text(m.val))
		case mWrite:
			hm.F, hm.Value = harness.MWrite, harness.Str(in.text(m.val))
		case mRegRead:
			hm.F = harness.MRead
			if m.val != nilValue {
				hm.Value = harness.Str(in.text(m.val))
			}
		case mUnknown:
			hm.F = harness.MRead
		default:
			hm.F = harness.MRead
			hm.List = []string{}
			for _, v := range a.readVals(tx.mop0 + int32(i)) {
				hm.List = append(hm.List, in.text(v))
			}
		}
		out = append(out, hm)
	}
	return out
}

// readVals returns what list read mi returned, as far as kept.
func (a *analysis) readVals(mi int32) []int64 {
	if vals, ok := a.s.aside[mi]; ok {
		return vals
	}
	m := a.s.mops[mi]
	start := a.lStart[m.key]
	if start+m.n > a.lStart[m.key+1] {
		return nil
	}
	return a.L[start : start+m.n]
}

func (a *analysis) cycleDetail(cy *cycle, idx int) Cycle {
	c := Cycle{Anomaly: cy.class, RulesOut: ladder[min(cy.level, len(ladder)-1)], AnomalyIndex: idx}
	n := names{}
	for _, t := range cy.txns {
		tx := &a.s.txns[t]
		x := Txn{Name: n.of(t), Index: tx.compIndex, Process: int(tx.process), Type: tx.typ.String(), Invoke: tx.invTime, Mops: a.mopsText(t)}
		if tx.compIndex >= 0 {
			x.Complete = tx.compTime
		} else {
			x.Index = tx.invIndex
		}
		c.Txns = append(c.Txns, x)
	}
	for i, h := range cy.hops {
		x, y := cy.txns[i], cy.txns[(i+1)%len(cy.txns)]
		r := strings.NewReplacer("\x01", n.of(x), "\x02", n.of(y))
		e := Edge{From: i, To: (i + 1) % len(cy.txns), Kind: kindName(h.kind), Reason: r.Replace(h.why[bit(h.kind)])}
		var also []string
		for _, k := range []uint8{kWW, kWR, kRW, kProc, kRT} {
			if h.kinds&k != 0 && k != h.kind {
				also = append(also, kindName(k))
			}
		}
		e.Also = strings.Join(also, ", ")
		c.Edges = append(c.Edges, e)
	}
	return c
}
