package isolation

import (
	"fmt"
	"math"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Ingest: ops arrive one at a time, in history order, and are kept as
// compact transactions and micro-ops. What can be judged within one
// transaction (internal consistency, future reads) and what needs only the
// reads seen so far (the longest read of each key, incompatible reads) is
// judged here, so that read lists need not be kept.

type txnType uint8

const (
	tOK txnType = iota
	tInfo
	tFail
)

func (t txnType) String() string {
	switch t {
	case tOK:
		return "ok"
	case tInfo:
		return "info"
	}
	return "fail"
}

// txn is one transaction.
type txn struct {
	invTime, compTime   int64 // ns; compTime is math.MaxInt64 when it never completed
	invIndex, compIndex int   // op indexes; compIndex -1 when it never completed
	invSeq, compSeq     int32 // the ops' places in the stream (real-time order); compSeq max when never completed
	src, invSrc         int32 // the completion's and invocation's positions in the source history; -1 none
	mop0, nmop          int32 // its micro-ops: mops[mop0 : mop0+nmop]
	process             int32
	rtIn                int32 // the real-time barrier last closed before its invocation; -1 none
	typ                 txnType
}

// mop is one micro-op. For a list read n is the length read and val its
// last element (noValue when empty); otherwise n says what it is.
type mop struct {
	val int64
	key int32
	n   int32
}

const (
	mAppend  = -1 // append val
	mWrite   = -2 // write val
	mRegRead = -3 // register read of val (nilValue: absent)
	mUnknown = -4 // a read whose result is unknown (info, fail)
)

func (m mop) isListRead() bool { return m.n >= 0 }
func (m mop) isWrite() bool    { return m.n == mAppend || m.n == mWrite }

// openInv is an invocation awaiting its completion.
type openInv struct {
	op   harness.Op
	pos  int32
	seq  int32
	rtIn int32
}

// keyState is what ingest knows of one key (list-append).
type keyState struct {
	longest   []int64 // the longest read so far; every other read is a prefix of it
	longestBy int32   // the read micro-op that gave it
	broken    bool    // no version order can be inferred (see why)
	why       string
}

// InputError is an op the model cannot judge: the checker's verdict is
// unknown, and an import refuses the file (exit 64).
type InputError struct {
	Index   int // the op's index
	Process harness.Process
	Msg     string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("op %d (process %s): %s", e.Index, e.Process, e.Msg)
}

// CheckMop says whether a micro-op of an op of type t belongs to the model.
func CheckMop(model Model, t harness.Type, m harness.Mop) error {
	switch model {
	case ListAppend:
		switch m.F {
		case harness.MAppend:
			if m.Value == nil || m.List != nil {
				return fmt.Errorf("micro-op %s: an append needs one value, e.g. [append x 4]", m)
			}
		case harness.MRead:
			if m.Value != nil && t == harness.OK {
				return fmt.Errorf("micro-op %s: a read in the list-append model returns a list, e.g. [r x [1 2]], not %s", m, *m.Value)
			}
		default:
			return fmt.Errorf("micro-op %s: the list-append model has only append and r (%s)", m, modelOf(m.F))
		}
	case RWRegister:
		switch m.F {
		case harness.MWrite:
			if m.Value == nil || m.List != nil {
				return fmt.Errorf("micro-op %s: a write needs one value, e.g. [w x 4]", m)
			}
		case harness.MRead:
			if m.List != nil && t == harness.OK {
				return fmt.Errorf("micro-op %s: a read in the rw-register model returns one value or nil, e.g. [r x 4], not a list", m)
			}
		default:
			return fmt.Errorf("micro-op %s: the rw-register model has only w and r (%s)", m, modelOf(m.F))
		}
	default:
		return fmt.Errorf("unknown model %q: want %s or %s", model, ListAppend, RWRegister)
	}
	return nil
}

// modelOf says where a micro-op belongs.
func modelOf(f string) string {
	switch f {
	case harness.MAppend:
		return "an append belongs to the list-append model"
	case harness.MWrite:
		return "a w belongs to the rw-register model"
	case harness.MAdd:
		return "an add belongs to the bank workload's checker"
	}
	return "no model of this checker has " + f
}

// Add takes the next op of the history (ops in history order). It returns
// an *InputError for an op the model cannot judge; the stream then judges
// nothing more.
func (s *Stream) Add(op harness.Op) error { return s.add(op, -1) }

func (s *Stream) add(op harness.Op, pos int32) error {
	if s.err != nil {
		return s.err
	}
	if op.IsNemesis() {
		return nil
	}
	if op.F != harness.FTxn {
		s.nonTxn++
		return nil
	}
	s.ops++
	s.seq++
	if op.Type == harness.Invoke {
		s.closeBarrier()
		s.open[op.Process] = openInv{op: op, pos: pos, seq: s.seq, rtIn: int32(len(s.barrierEnd)) - 1}
		return nil
	}
	inv, ok := s.open[op.Process]
	if !ok {
		return nil // a completion without its invocation: nothing to pair
	}
	delete(s.open, op.Process)
	var t txnType
	switch op.Type {
	case harness.OK:
		t = tOK
	case harness.Fail:
		t = tFail
	default:
		t = tInfo
	}
	mops := op.Txn
	if len(mops) == 0 || t != tOK {
		mops = inv.op.Txn // the invocation says what was attempted
		if len(mops) == 0 {
			mops = op.Txn
		}
	}
	return s.addTxn(inv, &op, pos, s.seq, t, mops)
}

// finish turns invocations that never completed into info transactions.
func (s *Stream) finish() {
	for p, inv := range s.open {
		if s.err == nil {
			s.err = s.addTxn(inv, nil, -1, math.MaxInt32, tInfo, inv.op.Txn)
		}
		delete(s.open, p)
	}
}

func (s *Stream) addTxn(inv openInv, comp *harness.Op, pos, seq int32, t txnType, mops []harness.Mop) error {
	opType := harness.Info
	if comp != nil {
		opType = comp.Type
	}
	for _, m := range mops {
		if err := CheckMop(s.o.Model, opType, m); err != nil {
			idx, proc := inv.op.Index, inv.op.Process
			if comp != nil {
				idx = comp.Index
			}
			s.err = &InputError{Index: idx, Process: proc, Msg: err.Error()}
			return s.err
		}
	}
	id := int32(len(s.txns))
	tx := txn{invTime: inv.op.Time, compTime: math.MaxInt64, invIndex: inv.op.Index, compIndex: -1,
		invSeq: inv.seq, compSeq: seq, src: -1, invSrc: inv.pos, mop0: int32(len(s.mops)), nmop: int32(len(mops)),
		process: int32(inv.op.Process), rtIn: inv.rtIn, typ: t}
	if comp != nil {
		tx.compTime, tx.compIndex, tx.src = comp.Time, comp.Index, pos
	}
	s.txns = append(s.txns, tx)
	s.count[t]++
	if t != tFail {
		// Session order: from the process's last ok transaction. An info
		// transaction may still take effect later, so nothing is ordered
		// after it.
		if last, ok := s.lastOK[inv.op.Process]; ok {
			s.procEdges = append(s.procEdges, [2]int32{last, id})
		}
	}
	if t == tOK {
		s.lastOK[inv.op.Process] = id
		s.barrierMembers = append(s.barrierMembers, id)
	}
	var err error
	if s.o.Model == ListAppend {
		err = s.addListTxn(id, t, mops)
	} else {
		err = s.addRegisterTxn(id, t, mops)
	}
	if err != nil {
		s.err = err
	}
	return err
}

// closeBarrier closes the current real-time barrier before an invocation
// when ok transactions completed since the last one: every transaction
// invoked from now on follows them in real time.
func (s *Stream) closeBarrier() {
	n := int32(len(s.barrierMembers))
	if len(s.barrierEnd) > 0 && s.barrierEnd[len(s.barrierEnd)-1] == n || n == 0 {
		return
	}
	s.barrierEnd = append(s.barrierEnd, n)
}

func (s *Stream) key(k string) (int32, error) {
	id, err := s.in.key(k)
	if err != nil {
		return 0, err
	}
	if s.o.Model == ListAppend {
		for int(id) >= len(s.keys) {
			s.keys = append(s.keys, keyState{longestBy: -1})
		}
	}
	return id, nil
}

// addListTxn ingests a list-append transaction.
func (s *Stream) addListTxn(id int32, t txnType, hm []harness.Mop) error {
	base := int32(len(s.mops))
	// This transaction's appends, for future reads.
	s.scrAppends = s.scrAppends[:0]
	for i, m := range hm {
		k, err := s.key(m.Key)
		if err != nil {
			return err
		}
		if m.F == harness.MAppend {
			v := s.in.value(*m.Value)
			s.mops = append(s.mops, mop{val: v, key: k, n: mAppend})
			s.scrAppends = append(s.scrAppends, scrAppend{key: k, val: v, mop: int32(i)})
			s.addWrite(k, v, id, base+int32(i))
			continue
		}
		if t != tOK {
			s.mops = append(s.mops, mop{val: noValue, key: k, n: mUnknown})
			continue
		}
		s.mops = append(s.mops, mop{val: noValue, key: k, n: int32(len(m.List))})
	}
	if t != tOK {
		return nil
	}
	// Reads of an ok transaction: internal consistency, future reads, the
	// longest read of each key.
	s.scrKeys = s.scrKeys[:0]
	for i, m := range hm {
		mi := base + int32(i)
		k := s.mops[mi].key
		st := s.scrState(k)
		if m.F == harness.MAppend {
			st.seen = true
			st.added = append(st.added, s.mops[mi].val)
			continue
		}
		vals := s.scrRead[:0]
		for _, e := range m.List {
			vals = append(vals, s.in.value(e))
		}
		s.scrRead = vals
		if len(vals) > 0 {
			s.mops[mi].val = vals[len(vals)-1]
		}
		if st.seen {
			if exp, ok := st.expect(vals); !ok {
				s.note(finding{class: "internal", txns: []int32{id}, mop: mi, key: k, expected: exp})
			}
		}
		st.seen, st.known = true, true
		st.base = append(st.base[:0], vals...)
		st.added = st.added[:0]
		for _, a := range s.scrAppends {
			if a.key == k && a.mop > int32(i) {
				for _, e := range vals {
					if e == a.val {
						s.note(finding{class: "future-read", txns: []int32{id}, mop: mi, key: k, val: a.val})
					}
				}
			}
		}
		s.observe(k, vals, mi)
	}
	return nil
}

type scrAppend struct {
	key, mop int32
	val      int64
}

// scrKey is one key's state within the transaction being ingested.
type scrKey struct {
	key   int32
	seen  bool    // read, or appended to, before
	known bool    // base is the whole state (a read); else only what was appended is known
	base  []int64 // the state last read
	added []int64 // appended since
}

func (s *Stream) scrState(k int32) *scrKey {
	for i := range s.scrKeys {
		if s.scrKeys[i].key == k {
			return &s.scrKeys[i]
		}
	}
	if len(s.scrKeys) < cap(s.scrKeys) {
		s.scrKeys = s.scrKeys[:len(s.scrKeys)+1]
		st := &s.scrKeys[len(s.scrKeys)-1]
		st.key, st.seen, st.known = k, false, false
		st.base, st.added = st.base[:0], st.added[:0]
		return st
	}
	s.scrKeys = append(s.scrKeys, scrKey{key: k})
	return &s.scrKeys[len(s.scrKeys)-1]
}

// expect checks a read against what the transaction itself read and
// appended before; it returns the expected state when they differ.
func (st *scrKey) expect(read []int64) ([]int64, bool) {
	if st.known {
		want := append(append([]int64(nil), st.base...), st.added...)
		return want, equalInts(want, read)
	}
	// Only our own appends are known: the read must end with them.
	if len(read) < len(st.added) || !equalInts(read[len(read)-len(st.added):], st.added) {
		return append([]int64{unknownPrefix}, st.added...), false
	}
	return nil, true
}

// unknownPrefix marks, in an expected state, elements the transaction did
// not know ("[… 3 4]").
const unknownPrefix int64 = -3

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// observe compares a read of k with the longest read of k so far.
func (s *Stream) observe(k int32, vals []int64, mi int32) {
	ks := &s.keys[k]
	L := ks.longest
	n := min(len(L), len(vals))
	if equalInts(L[:n], vals[:n]) {
		if len(vals) > len(L) {
			ks.longest = append(ks.longest, vals[len(L):]...)
			ks.longestBy = mi
		}
		return
	}
	// Neither is a prefix of the other: no single order of appends
	// explains both.
	s.keepRead(mi, vals)
	if !ks.broken {
		ks.broken, ks.why = true, "incompatible-order"
		s.note(finding{class: "incompatible-order", txns: []int32{s.txnOfMop(mi), s.txnOfMop(ks.longestBy)}, mop: mi, mop2: ks.longestBy, key: k})
	}
	if dup := firstDuplicate(vals); dup != noValue {
		s.note(finding{class: "duplicate-elements", mop: mi, key: k, val: dup})
	}
}

// keepRead keeps a read that is no prefix of the key's longest read (its
// elements cannot be recovered from the version order), up to a bound.
func (s *Stream) keepRead(mi int32, vals []int64) {
	if s.asideElems+len(vals) > maxAsideElems {
		return
	}
	s.asideElems += len(vals)
	s.aside[mi] = append([]int64(nil), vals...)
}

const maxAsideElems = 1 << 20

func firstDuplicate(vals []int64) int64 {
	seen := make(map[int64]bool, len(vals))
	for _, v := range vals {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return noValue
}

// addWrite records that transaction id wrote v to k (micro-op mi).
func (s *Stream) addWrite(k int32, v int64, id, mi int32) {
	e, fresh := s.writes.put(pack(k, v))
	if fresh || e.writer == -1 {
		e.writer, e.mop = id, mi
		return
	}
	if e.writer != dupWriter {
		s.dupWrites = append(s.dupWrites, dupWrite{key: k, val: v, first: e.writer, second: id})
		e.writer = dupWriter
	}
}

type dupWrite struct {
	key           int32
	val           int64
	first, second int32
}

// addRegisterTxn ingests an rw-register transaction.
func (s *Stream) addRegisterTxn(id int32, t txnType, hm []harness.Mop) error {
	base := int32(len(s.mops))
	s.scrKeys = s.scrKeys[:0]
	for i, m := range hm {
		mi := base + int32(i)
		k, err := s.key(m.Key)
		if err != nil {
			return err
		}
		if m.F == harness.MWrite {
			v := s.in.value(*m.Value)
			s.mops = append(s.mops, mop{val: v, key: k, n: mWrite})
			s.addWrite(k, v, id, mi)
			if t == tOK {
				st := s.scrState(k)
				st.seen = true
				st.base = append(st.base[:0], v)
			}
			continue
		}
		if t != tOK {
			s.mops = append(s.mops, mop{val: noValue, key: k, n: mUnknown})
			continue
		}
		v := nilValue
		if m.Value != nil {
			v = s.in.value(*m.Value)
		}
		s.mops = append(s.mops, mop{val: v, key: k, n: mRegRead})
		st := s.scrState(k)
		if st.seen && st.base[0] != v {
			s.note(finding{class: "internal", txns: []int32{id}, mop: mi, key: k, expected: []int64{st.base[0]}})
		}
		st.seen = true
		st.base = append(st.base[:0], v)
		// A read of a value this transaction writes later.
		if v != nilValue {
			for j := i + 1; j < len(hm); j++ {
				if hm[j].F == harness.MWrite && hm[j].Key == m.Key && *hm[j].Value == *m.Value {
					s.note(finding{class: "future-read", txns: []int32{id}, mop: mi, key: k, val: v})
				}
			}
		}
	}
	return nil
}
