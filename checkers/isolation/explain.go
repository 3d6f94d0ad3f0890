package isolation

import (
	"fmt"
	"sort"
	"strings"
)

// Explanations: every edge of a cycle is justified again from the data
// (the graph keeps no reasons, to stay small), then the cycle is classified
// by the kinds its edges can take, most severe reading first.

// hop is the edge from one transaction of a cycle to the next.
type hop struct {
	kind  uint8 // the kind the classification uses
	kinds uint8 // every kind that holds
	rc    uint8 // kinds that hold only from read committed up
	why   [5]string
}

func bit(k uint8) int {
	for i := 0; i < 8; i++ {
		if k == 1<<i {
			return i
		}
	}
	return 0
}

func (h *hop) add(k uint8, rc bool, why string) {
	if h.kinds&k != 0 && (h.rc&k == 0 || rc) {
		return // keep the first reason, or one that needs no assumption
	}
	h.kinds |= k
	if rc {
		h.rc |= k
	} else {
		h.rc &^= k
	}
	h.why[bit(k)] = why
}

// classify turns a closed walk of the component (local ids) into a cycle
// of transactions and names it.
func (a *analysis) classify(sb *sub, walk []int32, found class) *cycle {
	var txns []int32
	var searched []uint8
	for i, v := range walk[:len(walk)-1] {
		if !sb.real[v] {
			continue
		}
		txns = append(txns, sb.global[v])
		searched = append(searched, edgeKind(sb.g, v, walk[i+1], found.mask|kRW))
	}
	// Start with the earliest transaction: T1 is the first to happen.
	first := 0
	for i, t := range txns {
		if a.s.txns[t].invSeq < a.s.txns[txns[first]].invSeq {
			first = i
		}
	}
	txns = append(txns[first:], txns[:first]...)
	searched = append(searched[first:], searched[:first]...)
	cy := &cycle{txns: txns, hops: make([]hop, len(txns))}
	for i := range txns {
		h := a.justify(txns[i], txns[(i+1)%len(txns)])
		if h.kinds&searched[i] == 0 {
			// Not expected: the search followed an edge the data does not
			// justify again. Keep the search's kind and say so.
			h.add(searched[i]&^(kPass|kRC), false, "\x01 precedes \x02 by a "+kindName(searched[i])+" edge of the graph")
		}
		cy.hops[i] = h
	}
	for _, cl := range classes {
		if kinds, ok := fits(cl, cy.hops); ok {
			cy.class, cy.level = cl.name, anomalyLevel[cl.name]
			for i := range cy.hops {
				cy.hops[i].kind = kinds[i]
				if cy.hops[i].rc&kinds[i] != 0 {
					cy.level = max(cy.level, lvRC)
				}
			}
			return cy
		}
	}
	cy.class, cy.level = found.name, anomalyLevel[found.name]
	for i := range cy.hops {
		cy.hops[i].kind = searched[i] &^ (kPass | kRC)
	}
	return cy
}

// edgeKind is the kind of an edge from v to w in mask (ww first).
func edgeKind(g *graph, v, w int32, mask uint8) uint8 {
	best := uint8(0)
	for e := g.off[v]; e < g.off[v+1]; e++ {
		if g.to[e] == w && allowed(g.kind[e], mask) {
			k := g.kind[e] &^ kRC
			if best == 0 || k < best {
				best = k
			}
		}
	}
	return best
}

// fits says whether the hops can be read as a cycle of class cl, and with
// which kinds.
func fits(cl class, hops []hop) ([]uint8, bool) {
	mask := cl.mask
	if cl.oneRW {
		mask |= kRW
	}
	kinds := make([]uint8, len(hops))
	forced := make([]bool, len(hops))
	nforced := 0
	for i, h := range hops {
		avail := h.kinds & mask
		if avail == 0 {
			return nil, false
		}
		if avail == kRW {
			forced[i] = true
			nforced++
			kinds[i] = kRW
			continue
		}
		for _, k := range []uint8{kWW, kWR, kProc, kRT} {
			if avail&k != 0 {
				kinds[i] = k
				break
			}
		}
	}
	switch {
	case cl.oneRW:
		return kinds, nforced == 1
	case cl.nonAdj:
		if nforced < 2 {
			return nil, false
		}
		for i := range forced {
			if forced[i] && forced[(i+1)%len(forced)] {
				return nil, false
			}
		}
	}
	return kinds, true
}

func kindName(k uint8) string {
	switch {
	case k&kWW != 0:
		return "ww"
	case k&kWR != 0:
		return "wr"
	case k&kRW != 0:
		return "rw"
	case k&kProc != 0:
		return "process"
	case k&kRT != 0:
		return "realtime"
	}
	return "pass"
}

// justify finds every kind of edge from transaction x to y, with a reason
// each. Reasons are templates: \x01 stands for x's name, \x02 for y's.
func (a *analysis) justify(x, y int32) hop {
	var h hop
	s := a.s
	tx, ty := &s.txns[x], &s.txns[y]
	if s.o.Model == ListAppend {
		a.justifyList(&h, x, y)
	} else {
		a.justifyRegister(&h, x, y)
	}
	if tx.typ == tOK && ty.typ != tFail && tx.compSeq < ty.invSeq {
		if tx.process == ty.process {
			h.add(kProc, false, fmt.Sprintf("\x01 and \x02 are transactions of process %d, \x01 completed at %s and \x02 was invoked after it, at %s",
				tx.process, secs(tx.compTime), secs(ty.invTime)))
		}
		h.add(kRT, false, fmt.Sprintf("\x01 completed at %s, before \x02 was invoked at %s", secs(tx.compTime), secs(ty.invTime)))
	}
	return h
}

func (a *analysis) mopsOf(t int32) []mop {
	tx := &a.s.txns[t]
	return a.s.mops[tx.mop0 : tx.mop0+tx.nmop]
}

func (a *analysis) justifyList(h *hop, x, y int32) {
	s := a.s
	in := s.in
	mx, my := a.mopsOf(x), a.mopsOf(y)
	for _, b := range my {
		if b.n != mAppend || s.keys[b.key].broken {
			continue
		}
		eb := s.writes.get(pack(b.key, b.val))
		if eb == nil || eb.writer != y {
			continue
		}
		for _, m := range mx {
			if m.key != b.key {
				continue
			}
			k := a.keyText(m.key)
			switch {
			case m.n == mAppend:
				ea := s.writes.get(pack(m.key, m.val))
				if ea == nil || ea.writer != x || ea.pos < 0 {
					continue
				}
				if eb.pos > ea.pos {
					h.add(kWW, false, fmt.Sprintf("\x01 appended %s to %s before \x02 appended %s (%s = %s)",
						in.text(m.val), k, in.text(b.val), k, a.listText(m.key, eb.pos+1)))
				} else if eb.pos < 0 {
					h.add(kWW, false, fmt.Sprintf("\x01 appended %s to %s, which reads observed, and \x02 appended %s, which no read observed, so it came later",
						in.text(m.val), k, in.text(b.val)))
				}
			case m.isListRead() && s.txns[x].typ == tOK:
				if eb.pos >= m.n {
					h.add(kRW, false, fmt.Sprintf("\x01 read %s = %s, which lacks \x02's append of %s (%s = %s)",
						k, a.listText(m.key, m.n), in.text(b.val), k, a.listText(m.key, eb.pos+1)))
				} else if eb.pos < 0 {
					h.add(kRW, false, fmt.Sprintf("\x01 read %s = %s, which lacks \x02's append of %s (no read observed that append, so it came after every version read)",
						k, a.listText(m.key, m.n), in.text(b.val)))
				}
			}
		}
	}
	if s.txns[y].typ != tOK {
		return
	}
	for i, m := range my {
		if !m.isListRead() || m.n == 0 {
			continue
		}
		if e := s.writes.get(pack(m.key, m.val)); e != nil && e.writer == x {
			h.add(kWR, false, fmt.Sprintf("\x02 read %s = %s, whose last element \x01 appended",
				a.keyText(m.key), a.readText(s.txns[y].mop0+int32(i))))
		}
	}
}

func (a *analysis) justifyRegister(h *hop, x, y int32) {
	s := a.s
	in := s.in
	mx, my := a.mopsOf(x), a.mopsOf(y)
	extRead := func(ms []mop, t int32, k int32) (int64, bool) {
		if s.txns[t].typ != tOK {
			return 0, false
		}
		for _, m := range ms {
			if m.key == k {
				return m.val, m.n == mRegRead
			}
		}
		return 0, false
	}
	for _, b := range my {
		if b.n != mWrite || a.extWrite(my, b.key) != b.val {
			continue
		}
		k := a.keyText(b.key)
		// x's final write of k, or x's read of k, precedes y's write.
		if wx := a.extWrite(mx, b.key); wx != noValue {
			if r, ok := extRead(my, y, b.key); ok && r == wx {
				h.add(kWW, true, fmt.Sprintf("\x01 wrote %s = %s, and \x02 read %s = %s before writing %s = %s",
					k, in.text(wx), k, in.text(r), k, in.text(b.val)))
			}
		}
		if r, ok := extRead(mx, x, b.key); ok {
			if r == nilValue {
				h.add(kRW, false, fmt.Sprintf("\x01 read %s = nil, the initial state, and \x02 wrote %s = %s, a later version",
					k, k, in.text(b.val)))
			} else if ry, ok := extRead(my, y, b.key); ok && ry == r {
				h.add(kRW, true, fmt.Sprintf("\x01 read %s = %s, and \x02 read %s = %s too, then wrote %s = %s, the version after it",
					k, in.text(r), k, in.text(r), k, in.text(b.val)))
			}
		}
	}
	for _, m := range my {
		if r, ok := extRead(my, y, m.key); ok && r != nilValue && m.n == mRegRead && r == m.val {
			if e := s.writes.get(pack(m.key, r)); e != nil && e.writer == x && a.extWrite(mx, m.key) == r {
				h.add(kWR, false, fmt.Sprintf("\x02 read %s = %s, which \x01 wrote", a.keyText(m.key), in.text(r)))
			}
		}
	}
}

// listText renders the first n elements of k's version order.
func (a *analysis) listText(k int32, n int32) string {
	start := a.lStart[k]
	if start+n > a.lStart[k+1] {
		n = a.lStart[k+1] - start
	}
	return a.valsText(a.L[start : start+n])
}

// readText renders what list read mi returned.
func (a *analysis) readText(mi int32) string {
	if vals, ok := a.s.aside[mi]; ok {
		return a.valsText(vals)
	}
	m := a.s.mops[mi]
	if m.n < 0 {
		return a.s.in.text(m.val)
	}
	if a.lStart[m.key]+m.n > a.lStart[m.key+1] {
		return fmt.Sprintf("(a list of %d elements, not kept)", m.n)
	}
	return a.listText(m.key, m.n)
}

// valsText renders a list, eliding the middle of a long one.
func (a *analysis) valsText(vals []int64) string {
	const head, tail = 3, 5
	var parts []string
	for i, v := range vals {
		if len(vals) > head+tail+1 && i == head {
			parts = append(parts, "…")
		}
		if len(vals) > head+tail+1 && i >= head && i < len(vals)-tail {
			continue
		}
		if v == unknownPrefix {
			parts = append(parts, "…")
			continue
		}
		parts = append(parts, a.s.in.text(v))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func secs(ns int64) string { return fmt.Sprintf("%.2f s", float64(ns)/1e9) }

// names gives the transactions of an anomaly names T1, T2, … in order.
type names map[int32]string

func (n names) of(t int32) string {
	if s, ok := n[t]; ok {
		return s
	}
	s := fmt.Sprintf("T%d", len(n)+1)
	n[t] = s
	return s
}

// txnText introduces a transaction: "T1 = op 1204 (process 3, ok,
// 12.41–12.43 s): [append x 4] [r y [7]]".
func (a *analysis) txnText(t int32, n names) string {
	tx := &a.s.txns[t]
	when := secs(tx.invTime) + " to " + secs(tx.compTime)
	idx := tx.compIndex
	if tx.compIndex < 0 {
		when, idx = "invoked at "+secs(tx.invTime)+", never completed", tx.invIndex
	}
	return fmt.Sprintf("%s = op %d (process %d, %s, %s): %s", n.of(t), idx, tx.process, tx.typ, when, a.mopsText(t))
}

// mopsText renders a transaction's micro-ops as the history has them.
func (a *analysis) mopsText(t int32) string {
	tx := &a.s.txns[t]
	in := a.s.in
	var parts []string
	for i, m := range a.mopsOf(t) {
		k := in.keys[m.key]
		switch m.n {
		case mAppend:
			parts = append(parts, "[append "+k+" "+in.text(m.val)+"]")
		case mWrite:
			parts = append(parts, "[w "+k+" "+in.text(m.val)+"]")
		case mRegRead:
			parts = append(parts, "[r "+k+" "+in.text(m.val)+"]")
		case mUnknown:
			parts = append(parts, "[r "+k+" ?]")
		default:
			parts = append(parts, "[r "+k+" "+a.readText(tx.mop0+int32(i))+"]")
		}
	}
	if len(parts) > 8 {
		parts = append(parts[:8], fmt.Sprintf("… (%d micro-ops)", len(parts)))
	}
	return strings.Join(parts, " ")
}

// keyText names a key in a sentence: "x", or "key 3" when it is a number.
func (a *analysis) keyText(k int32) string {
	name := a.s.in.keys[k]
	if _, ok := decimal(name); ok {
		return "key " + name
	}
	return name
}

// cycleText explains a cycle in words: first what it is and what it rules
// out, then its transactions, then why each precedes the next.
func (a *analysis) cycleText(cy *cycle) string {
	n := names{}
	order := make([]string, 0, len(cy.txns)+1)
	for _, t := range cy.txns {
		order = append(order, n.of(t))
	}
	order = append(order, n.of(cy.txns[0]))
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s, a cycle no order of the transactions allows; %s.", cy.class, meaningOf(cy.class), strings.Join(order, " < "), forbids(cy.level))
	if cy.level > anomalyLevel[cy.class] {
		b.WriteString(" (An order of versions here was inferred from a read followed by a write of one key, which holds from read committed up.)")
	}
	var intro []string
	for _, t := range cy.txns {
		intro = append(intro, a.txnText(t, n))
	}
	b.WriteString("\n" + strings.Join(intro, "; ") + ".\n")
	var steps []string
	for i, h := range cy.hops {
		x, y := cy.txns[i], cy.txns[(i+1)%len(cy.txns)]
		why := strings.NewReplacer("\x01", n.of(x), "\x02", n.of(y)).Replace(h.why[bit(h.kind)])
		steps = append(steps, fmt.Sprintf("%s, so %s precedes %s (%s)", why, n.of(x), n.of(y), kindName(h.kind)))
	}
	b.WriteString(strings.Join(steps, "; ") + ".")
	return b.String()
}

// findingText explains an anomaly that is not a cycle.
func (a *analysis) findingText(f *finding) string {
	s := a.s
	in := s.in
	n := names{}
	k := ""
	if f.key >= 0 && int(f.key) < len(in.keys) {
		k = a.keyText(f.key)
	}
	// The transactions are introduced after the sentence that names them.
	var introduced []int32
	intro := func(ts ...int32) string {
		for _, t := range ts {
			n.of(t)
		}
		introduced = append(introduced, ts...)
		return ""
	}
	read := func(mi int32) string { return k + " = " + a.readText(mi) }
	head := fmt.Sprintf("%s (%s): ", f.class, meaningOf(f.class))
	var body string
	switch f.class {
	case "G1a":
		body = intro(f.txns...) + fmt.Sprintf("%s read %s, but %s was written by %s, which failed", n.of(f.txns[0]), read(f.mop), in.text(f.val), n.of(f.txns[1]))
	case "G1b":
		verb := "wrote and then overwrote"
		if s.o.Model == ListAppend {
			verb = "appended and then appended to again"
		}
		body = intro(f.txns...) + fmt.Sprintf("%s read %s, whose last value, %s, %s %s within the same transaction", n.of(f.txns[0]), read(f.mop), in.text(f.val), n.of(f.txns[1]), verb)
	case "dirty-update":
		body = intro(f.txns...) + fmt.Sprintf("%s's version order has %s, appended by %s, which failed, and after it %s, appended by %s", k, in.text(f.val), n.of(f.txns[0]), in.text(f.val2), n.of(f.txns[1]))
	case "internal":
		body = intro(f.txns...) + fmt.Sprintf("%s read %s, but its own earlier micro-ops left %s = %s", n.of(f.txns[0]), read(f.mop), k, a.expectedText(f.expected))
	case "future-read":
		body = intro(f.txns...) + fmt.Sprintf("%s read %s, which holds %s, a value %s itself writes only later", n.of(f.txns[0]), read(f.mop), in.text(f.val), n.of(f.txns[0]))
	case "incompatible-order":
		if f.mop2 < 0 {
			t1, t2 := f.txns[0], a.txnOfMop(f.mop)
			var vals []int64
			for _, m := range a.mopsOf(t1) {
				if m.key == f.key && m.n == mAppend {
					vals = append(vals, m.val)
				}
			}
			body = intro(t1, t2) + fmt.Sprintf("%s appended %s to %s in that order, but %s read %s: no order of appends explains both",
				n.of(t1), a.valsText(vals), k, n.of(t2), read(f.mop))
			break
		}
		t1, t2 := a.txnOfMop(f.mop), a.txnOfMop(f.mop2)
		body = intro(t1, t2) + fmt.Sprintf("%s read %s and %s read %s: neither is a prefix of the other", n.of(t1), read(f.mop), n.of(t2), read(f.mop2))
	case "duplicate-elements":
		t := a.txnOfMop(f.mop)
		body = intro(t) + fmt.Sprintf("%s read %s, in which %s appears twice", n.of(t), read(f.mop), in.text(f.val))
	case "unwritten-value":
		body = intro(f.txns...) + fmt.Sprintf("%s read %s, but no transaction wrote %s to %s", n.of(f.txns[0]), read(f.mop), in.text(f.val), k)
	case "cyclic-versions":
		var steps []string
		for _, t := range f.txns {
			for _, m := range a.mopsOf(t) {
				if m.key == f.key && m.n == mRegRead {
					steps = append(steps, fmt.Sprintf("%s read %s = %s and then wrote %s = %s", n.of(t), k, in.text(m.val), k, in.text(a.extWrite(a.mopsOf(t), f.key))))
					break
				}
			}
		}
		body = intro(f.txns...) + strings.Join(steps, "; ")
	case "lost-update":
		what := "read " + k + " = " + in.text(f.val)
		if s.o.Model == ListAppend {
			what = "read " + k + " = " + a.listText(f.key, f.n)
		}
		var ns []string
		for _, t := range f.txns {
			ns = append(ns, n.of(t))
		}
		all := "all"
		if len(ns) == 2 {
			all = "both"
		}
		body = intro(f.txns...) + fmt.Sprintf("%s %s %s and then wrote %s, and committed: whichever came later did not see the other's write", strings.Join(ns, ", "), all, what, k)
	default:
		body = intro(f.txns...)
	}
	var parts []string
	seen := map[int32]bool{}
	for _, t := range introduced {
		if !seen[t] {
			seen[t] = true
			parts = append(parts, a.txnText(t, n))
		}
	}
	return head + body + "; " + forbids(anomalyLevel[f.class]) + ".\n" + strings.Join(parts, "; ") + "."
}

func (a *analysis) expectedText(vals []int64) string {
	if a.s.o.Model == RWRegister && len(vals) == 1 {
		return a.s.in.text(vals[0])
	}
	return a.valsText(vals)
}

func (a *analysis) txnOfMop(mi int32) int32 { return a.s.txnOfMop(mi) }

// txnOfMop finds the transaction of micro-op mi.
func (s *Stream) txnOfMop(mi int32) int32 {
	ts := s.txns
	i := sort.Search(len(ts), func(i int) bool { return ts[i].mop0+ts[i].nmop > mi })
	return int32(i)
}
