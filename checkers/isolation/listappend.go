package isolation

import (
	"cmp"
	"slices"
)

// List-append: every read of a key is a prefix of its longest read, so the
// longest read is the key's version order (Elle's insight: appends are
// traceable, each version names every write before it). An append no read
// observed came after every observed one.

// versionOrders flattens the longest reads and places each element in the
// order: the position of every observed value, its writer, the next good
// writer at or after each position.
func (a *analysis) versionOrders() {
	s := a.s
	for _, d := range s.dupWrites {
		a.breakKey(d.key, "duplicate-appends")
	}
	nk := len(s.keys)
	a.lStart = make([]int32, nk+1)
	a.lastGood = make([]int32, nk)
	a.firstFail = make([]int32, nk)
	a.firstUnwritten = make([]int32, nk)
	total := 0
	for k := range s.keys {
		total += len(s.keys[k].longest)
	}
	a.L = make([]int64, 0, total)
	a.posWriter = make([]int32, total)
	a.nextGood = make([]int32, total)
	for k := range s.keys {
		ks := &s.keys[k]
		start := int32(len(a.L))
		a.lStart[k] = start
		a.L = append(a.L, ks.longest...)
		ks.longest = nil
		a.lastGood[k], a.firstFail[k], a.firstUnwritten[k] = -1, -1, -1
		for i := start; i < int32(len(a.L)); i++ {
			v := a.L[i]
			e, _ := s.writes.put(pack(int32(k), v))
			if e.pos >= 0 {
				if !ks.broken {
					s.note(finding{class: "duplicate-elements", mop: ks.longestBy, key: int32(k), val: v})
				}
				a.breakKey(int32(k), "duplicate-elements")
			} else {
				e.pos = i - start
			}
			a.posWriter[i] = e.writer
		}
	}
	a.lStart[nk] = int32(len(a.L))
	for k := range s.keys {
		if s.keys[k].broken {
			continue
		}
		a.orderKey(int32(k))
	}
}

func (a *analysis) breakKey(k int32, why string) {
	ks := &a.s.keys[k]
	if !ks.broken {
		ks.broken, ks.why = true, why
	}
	if why == "duplicate-appends" {
		a.unjudged++
	}
}

// good says whether w is a transaction that may have committed.
func (a *analysis) good(w int32) bool { return w >= 0 && a.s.txns[w].typ != tFail }

// orderKey finds aborted and unwritten elements and dirty updates, links
// successive writers (ww), and fills nextGood.
func (a *analysis) orderKey(k int32) {
	s := a.s
	start, end := a.lStart[k], a.lStart[k+1]
	prev := int32(-1)   // the last good writer
	failed := int32(-1) // an aborted element not yet followed by a committed one
	for i := start; i < end; i++ {
		w := a.posWriter[i]
		switch {
		case w < 0:
			if a.firstUnwritten[k] < 0 {
				a.firstUnwritten[k] = i - start
			}
		case s.txns[w].typ == tFail:
			if a.firstFail[k] < 0 {
				a.firstFail[k] = i - start
			}
			if failed < 0 {
				failed = i
			}
		default:
			if failed >= 0 {
				s.note(finding{class: "dirty-update", txns: []int32{a.posWriter[failed], w}, key: k, val: a.L[failed], val2: a.L[i]})
				failed = -1
			}
			if prev >= 0 && prev != w {
				a.e.add(prev, w, kWW)
			}
			prev = w
		}
	}
	a.lastGood[k] = prev
	next := int32(-1)
	for i := end - 1; i >= start; i-- {
		if a.good(a.posWriter[i]) {
			next = a.posWriter[i]
		}
		a.nextGood[i] = next
	}
}

// listEdges walks every transaction's micro-ops: wr and rw edges of reads,
// aborted, intermediate and unwritten reads, appends no read observed.
func (a *analysis) listEdges() error {
	s := a.s
	var finalReaders, unobserved []keyTxn
	var rmw []kvTxn
	for t := range s.txns {
		if t&0xffff == 0 && a.ctx.Err() != nil {
			return a.ctx.Err()
		}
		tx := &s.txns[t]
		if tx.typ == tFail {
			continue
		}
		id := int32(t)
		ms := s.mops[tx.mop0 : tx.mop0+tx.nmop]
		a.appendOrder(id, ms)
		for i, m := range ms {
			k := m.key
			ks := &s.keys[k]
			if m.n == mAppend {
				e := s.writes.get(pack(k, m.val))
				if ks.broken || e.pos >= 0 || e.writer != id {
					continue
				}
				a.e.add(a.lastGood[k], id, kWW)
				unobserved = append(unobserved, keyTxn{key: k, t: id})
				continue
			}
			if !m.isListRead() {
				continue
			}
			mi := tx.mop0 + int32(i)
			n := m.n
			if n > 0 {
				a.readOf(id, mi, k, m.val)
			}
			if ks.broken {
				continue
			}
			if f := a.firstFail[k]; f >= 0 && f < n {
				s.note(finding{class: "G1a", txns: []int32{id, a.posWriter[a.lStart[k]+f]}, mop: mi, key: k, val: a.L[a.lStart[k]+f]})
			}
			if u := a.firstUnwritten[k]; u >= 0 && u < n {
				s.note(finding{class: "unwritten-value", txns: []int32{id}, mop: mi, key: k, val: a.L[a.lStart[k]+u]})
			}
			if a.lStart[k]+n < a.lStart[k+1] && a.nextGood[a.lStart[k]+n] >= 0 {
				a.e.add(id, a.nextGood[a.lStart[k]+n], kRW)
			} else {
				finalReaders = append(finalReaders, keyTxn{key: k, n: n, t: id})
			}
			if a.readThenAppend(ms, i) {
				rmw = append(rmw, kvTxn{key: k, v: int64(n), t: id}) // the version read: its length
			}
		}
	}
	a.fans(finalReaders, unobserved)
	a.lostUpdates(rmw)
	return nil
}

// appendOrder checks that a transaction's appends to one key appear in the
// version order in the order it made them, none missing before one that
// is there. (Others' appends between them make a G0 cycle, found later.)
func (a *analysis) appendOrder(id int32, ms []mop) {
	s := a.s
	for i, m := range ms {
		if m.n != mAppend || s.keys[m.key].broken {
			continue
		}
		first := true
		for _, o := range ms[:i] {
			if o.n == mAppend && o.key == m.key {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		prev, missing := int32(-1), false
		for _, o := range ms[i:] {
			if o.n != mAppend || o.key != m.key {
				continue
			}
			e := s.writes.get(pack(o.key, o.val))
			if e == nil || e.writer != id {
				continue
			}
			if e.pos >= 0 && (missing || e.pos <= prev) {
				s.note(finding{class: "incompatible-order", txns: []int32{id}, mop: s.keys[m.key].longestBy, mop2: -1, key: m.key})
				break
			}
			if e.pos < 0 {
				missing = true
			}
			prev = e.pos
		}
	}
}

// readThenAppend says whether ms[i], a read, is the transaction's first
// read of its key and the transaction appends to that key after it.
func (a *analysis) readThenAppend(ms []mop, i int) bool {
	k := ms[i].key
	for _, m := range ms[:i] {
		if m.key == k {
			return false
		}
	}
	for _, m := range ms[i+1:] {
		if m.key == k && m.n == mAppend {
			return true
		}
	}
	return false
}

// readOf judges the last element v of a non-empty read by transaction t
// (micro-op mi): its writer precedes t (wr), unless it aborted (G1a) or the
// element was not its final append to the key (G1b).
func (a *analysis) readOf(t, mi, k int32, v int64) {
	s := a.s
	e := s.writes.get(pack(k, v))
	if e == nil || e.writer == -1 {
		if s.keys[k].broken {
			s.note(finding{class: "unwritten-value", txns: []int32{t}, mop: mi, key: k, val: v})
		}
		return
	}
	w := e.writer
	if w == dupWriter || w == t {
		return
	}
	if s.txns[w].typ == tFail {
		if s.keys[k].broken {
			s.note(finding{class: "G1a", txns: []int32{t, w}, mop: mi, key: k, val: v})
		}
		return
	}
	a.e.add(w, t, kWR)
	if a.intermediate(w, e.mop, k) {
		s.note(finding{class: "G1b", txns: []int32{t, w}, mop: mi, key: k, val: v})
	}
}

// intermediate says whether transaction w writes k again after micro-op mi.
func (a *analysis) intermediate(w, mi, k int32) bool {
	tx := &a.s.txns[w]
	for j := mi + 1; j < tx.mop0+tx.nmop; j++ {
		if m := a.s.mops[j]; m.key == k && m.isWrite() {
			return true
		}
	}
	return false
}

// fans links the readers of each key's last good version to the appends
// no read observed: every such reader precedes every such writer (rw). A
// reader that is also such a writer is linked directly, to the others; the
// rest go through one virtual node per key, so that r readers and w
// writers cost r+w edges, not r·w.
func (a *analysis) fans(readers, writers []keyTxn) {
	byKey := func(x, y keyTxn) int { return cmp.Or(cmp.Compare(x.key, y.key), cmp.Compare(x.t, y.t)) }
	slices.SortStableFunc(readers, byKey)
	slices.SortStableFunc(writers, byKey)
	wi := 0
	for ri := 0; ri < len(readers); {
		k := readers[ri].key
		rj := ri
		for rj < len(readers) && readers[rj].key == k {
			rj++
		}
		for wi < len(writers) && writers[wi].key < k {
			wi++
		}
		wj := wi
		for wj < len(writers) && writers[wj].key == k {
			wj++
		}
		var rs, ws []int32
		for _, r := range readers[ri:rj] {
			rs = append(rs, r.t)
		}
		for _, w := range writers[wi:wj] {
			ws = append(ws, w.t)
		}
		a.fan(rs, ws, kRW)
		ri, wi = rj, wj
	}
}

// fan adds rw edges (kind k) from every reader to every writer but itself.
func (a *analysis) fan(readers, writers []int32, k uint8) {
	if len(readers) == 0 || len(writers) == 0 {
		return
	}
	isWriter := map[int32]bool{}
	for _, w := range writers {
		isWriter[w] = true
	}
	var plain []int32
	both := 0
	for _, r := range readers {
		if !isWriter[r] {
			plain = append(plain, r)
			continue
		}
		// A reader that also wrote: more than one is a lost update,
		// reported as such; a bounded number keeps the graph linear.
		if both++; both > maxBothFan {
			continue
		}
		for _, w := range writers {
			a.e.add(r, w, k)
		}
	}
	if len(plain) > 1 && len(writers) > 1 {
		v := a.virtual()
		for _, r := range plain {
			a.e.add(r, v, k)
		}
		for _, w := range writers {
			a.e.add(v, w, kPass)
		}
		return
	}
	for _, r := range plain {
		for _, w := range writers {
			a.e.add(r, w, k)
		}
	}
}

const maxBothFan = 8

// keyTxn is a transaction's interest in a key (n: the length it read).
type keyTxn struct{ key, n, t int32 }
