package isolation

import (
	"cmp"
	"slices"
)

// RW-register: written values are unique, so a read names its writer (wr).
// The version order of a key is only partly known. Two sources are used:
//
//   - the initial state: every written value follows the absent (nil) one,
//     so a reader of nil precedes every writer of the key (rw). Sound under
//     every model.
//   - a read then a write of one key in one committed transaction ("writes
//     follow reads", Elle's :wfr-keys?): the value read precedes the value
//     written, so its writer precedes the transaction (ww) and its other
//     readers do too (rw). Sound from read committed up (under read
//     uncommitted a transaction may read a version installed after its own);
//     edges from it carry kRC, and a cycle that needs one rules out read
//     committed and stronger only.
//
// Not inferred: the order of two writes of a key that no transaction both
// read and wrote (blind writes), nor orders from process or real time (per
// key sequential or linearizable keys: assumptions Elle makes only when
// asked). Anomalies that depend on those orders go unseen.

// registerEdges walks every transaction's external reads (a first micro-op
// on a key that is a read) and external writes (the last write of a key).
func (a *analysis) registerEdges() error {
	s := a.s
	var nilReaders, writers, readers, succs, rmw []kvTxn
	var orders []wfrOrder
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
		for i, m := range ms {
			k := m.key
			first, last := true, true
			for _, o := range ms[:i] {
				if o.key == k {
					first = false
				}
			}
			for _, o := range ms[i+1:] {
				if o.key == k && o.n == mWrite {
					last = false
				}
			}
			switch {
			case m.n == mWrite && last:
				writers = append(writers, kvTxn{key: k, t: id})
			case m.n == mRegRead && first:
				w := a.extWrite(ms, k)
				if m.val == nilValue {
					nilReaders = append(nilReaders, kvTxn{key: k, t: id})
				} else {
					a.registerRead(id, tx.mop0+int32(i), k, m.val)
					readers = append(readers, kvTxn{key: k, v: m.val, t: id})
				}
				if w != noValue {
					rmw = append(rmw, kvTxn{key: k, v: m.val, t: id})
					if m.val != nilValue {
						orders = append(orders, wfrOrder{key: k, from: m.val, to: w, t: id})
					}
				}
			}
		}
	}
	// The initial state precedes every write.
	a.fanByKey(nilReaders, writers)
	// Writes follow reads, unless that makes some key's versions cyclic.
	var vg edges
	nodes := int32(0)
	node := func(k int32, v int64) int32 {
		e, _ := s.writes.put(pack(k, v))
		if e.vnode < 0 {
			e.vnode = nodes
			nodes++
		}
		return e.vnode
	}
	keyOf := []int32{}
	for _, o := range orders {
		f, t := node(o.key, o.from), node(o.key, o.to)
		for int(max(f, t)) >= len(keyOf) {
			keyOf = append(keyOf, o.key)
		}
		vg.add(f, t, kWW)
	}
	cyclic := map[int32]bool{}
	if nodes > 0 {
		comps, err := newTarjan(int(nodes)).run(a.ctx, build(int(nodes), int(nodes), &vg), kWW)
		if err != nil {
			return err
		}
		for _, c := range comps {
			k := keyOf[c[0]]
			if cyclic[k] {
				continue
			}
			cyclic[k] = true
			in := map[int32]bool{}
			for _, n := range c {
				in[n] = true
			}
			f := finding{class: "cyclic-versions", key: k}
			for _, o := range orders {
				if o.key == k && in[node(k, o.from)] && in[node(k, o.to)] && len(f.txns) < maxCycleTxns {
					f.txns = append(f.txns, o.t)
				}
			}
			s.note(f)
		}
	}
	for _, o := range orders {
		if cyclic[o.key] {
			continue
		}
		if e := s.writes.get(pack(o.key, o.from)); e != nil && a.good(e.writer) {
			a.e.add(e.writer, o.t, kWW|kRC)
		}
		succs = append(succs, kvTxn{key: o.key, v: o.from, t: o.t})
	}
	// Other readers of the version read precede the transaction that wrote
	// the next one.
	a.fanByValue(readers, succs)
	a.lostUpdates(rmw)
	return nil
}

// lostUpdates finds committed transactions that read the same version of
// a key (a value; in list-append, a length) and then wrote the key.
func (a *analysis) lostUpdates(rmw []kvTxn) {
	slices.SortFunc(rmw, func(x, y kvTxn) int {
		return cmp.Or(cmp.Compare(x.key, y.key), cmp.Compare(x.v, y.v), cmp.Compare(x.t, y.t))
	})
	for i := 0; i < len(rmw); {
		j := i + 1
		for j < len(rmw) && rmw[j].key == rmw[i].key && rmw[j].v == rmw[i].v {
			j++
		}
		if j-i > 1 {
			f := finding{class: "lost-update", key: rmw[i].key, val: rmw[i].v, n: int32(rmw[i].v)}
			for _, r := range rmw[i:min(j, i+maxCycleTxns)] {
				f.txns = append(f.txns, r.t)
			}
			a.s.note(f)
		}
		i = j
	}
}

// kvTxn is a transaction's interest in a version of a key.
type kvTxn struct {
	v   int64
	key int32
	t   int32
}

// extWrite is the value a transaction's micro-ops finally write to k, or
// noValue.
func (a *analysis) extWrite(ms []mop, k int32) int64 {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].key == k && ms[i].n == mWrite {
			return ms[i].val
		}
	}
	return noValue
}

// registerRead judges an external read of v by transaction t: its writer
// precedes t (wr), unless it aborted (G1a), wrote v only in passing (G1b),
// or no one wrote v.
func (a *analysis) registerRead(t, mi, k int32, v int64) {
	s := a.s
	e := s.writes.get(pack(k, v))
	if e == nil || e.writer == -1 {
		s.note(finding{class: "unwritten-value", txns: []int32{t}, mop: mi, key: k, val: v})
		return
	}
	w := e.writer
	if w == dupWriter || w == t {
		return
	}
	if s.txns[w].typ == tFail {
		s.note(finding{class: "G1a", txns: []int32{t, w}, mop: mi, key: k, val: v})
		return
	}
	if a.intermediate(w, e.mop, k) {
		s.note(finding{class: "G1b", txns: []int32{t, w}, mop: mi, key: k, val: v})
		return
	}
	a.e.add(w, t, kWR)
}

// wfrOrder is a version order from a read then a write of one key.
type wfrOrder struct {
	from, to int64
	key      int32
	t        int32
}

// fanByKey links, key by key, the readers of the initial state to every
// writer.
func (a *analysis) fanByKey(readers, writers []kvTxn) {
	byKey := func(x, y kvTxn) int { return cmp.Or(cmp.Compare(x.key, y.key), cmp.Compare(x.t, y.t)) }
	slices.SortStableFunc(readers, byKey)
	slices.SortStableFunc(writers, byKey)
	groups(readers, writers, func(x kvTxn) int64 { return int64(x.key) }, func(rs, ws []int32) { a.fan(rs, ws, kRW) })
}

// fanByValue links the readers of each version to the writers of the
// versions known to follow it.
func (a *analysis) fanByValue(readers, succs []kvTxn) {
	byKV := func(x, y kvTxn) int {
		return cmp.Or(cmp.Compare(x.key, y.key), cmp.Compare(x.v, y.v), cmp.Compare(x.t, y.t))
	}
	slices.SortFunc(readers, byKV)
	slices.SortFunc(succs, byKV)
	i := 0
	for j := 0; j < len(succs); {
		k, v := succs[j].key, succs[j].v
		jj := j
		var ws []int32
		for jj < len(succs) && succs[jj].key == k && succs[jj].v == v {
			ws = append(ws, succs[jj].t)
			jj++
		}
		for i < len(readers) && (readers[i].key < k || readers[i].key == k && readers[i].v < v) {
			i++
		}
		var rs []int32
		for ii := i; ii < len(readers) && readers[ii].key == k && readers[ii].v == v; ii++ {
			rs = append(rs, readers[ii].t)
		}
		a.fan(rs, ws, kRW|kRC)
		j = jj
	}
}

// groups walks two lists sorted by a group id, calling f for each group
// present in the first.
func groups(xs, ys []kvTxn, id func(kvTxn) int64, f func(rs, ws []int32)) {
	j := 0
	for i := 0; i < len(xs); {
		g := id(xs[i])
		ii := i
		var rs []int32
		for ii < len(xs) && id(xs[ii]) == g {
			rs = append(rs, xs[ii].t)
			ii++
		}
		for j < len(ys) && id(ys[j]) < g {
			j++
		}
		var ws []int32
		for jj := j; jj < len(ys) && id(ys[jj]) == g; jj++ {
			ws = append(ws, ys[jj].t)
		}
		f(rs, ws)
		i = ii
	}
}
