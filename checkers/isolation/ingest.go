package isolation

import (
	"fmt"
	"math"
	"strings"

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

// openInv is an invocation awaiting its completion: what it attempted, in
// compact form (reads carry nothing).
type openInv struct {
	process harness.Process
	index   int
	time    int64
	pos     int32
	seq     int32
	rtIn    int32
	mops    []mop
}

// rawOp is an op as both readers (harness.Op, history.jsonl lines) hand it
// to the stream, keys and values already interned.
type rawOp struct {
	index   int
	process harness.Process
	typ     harness.Type
	time    int64
	mops    []rawMop
}

// rawMop is a micro-op, interned. A list's elements are list[lo:hi] of the
// stream's arena.
type rawMop struct {
	f      uint8
	isList bool
	key    int32
	val    int64 // a scalar's code; nilValue for null
	lo, hi int32
	name   string // f's text when it is none of ours
}

const (
	fRead uint8 = iota
	fAppend
	fWrite
	fAdd
	fOther
)

func fCode(f string) uint8 {
	switch f {
	case harness.MRead:
		return fRead
	case harness.MAppend:
		return fAppend
	case harness.MWrite:
		return fWrite
	case harness.MAdd:
		return fAdd
	}
	return fOther
}

var fNames = [...]string{harness.MRead, harness.MAppend, harness.MWrite, harness.MAdd}

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
	isList, hasValue := m.List != nil, m.Value != nil
	if err := checkShape(model, t, fCode(m.F), isList, hasValue); err != nil {
		return fmt.Errorf("micro-op %s: %v", m, err)
	}
	return nil
}

// checkShape says what is wrong with a micro-op of f with a list or a value.
func checkShape(model Model, t harness.Type, f uint8, isList, hasValue bool) error {
	switch model {
	case ListAppend:
		switch f {
		case fAppend:
			if !hasValue || isList {
				return fmt.Errorf("an append needs one value, e.g. [append x 4]")
			}
		case fRead:
			if hasValue && !isList && t == harness.OK {
				return fmt.Errorf("a read of a list that is not a list: a read in the list-append model returns a list, e.g. [r x [1 2]]")
			}
		default:
			return fmt.Errorf("the list-append model has only append and r (%s)", modelOf(f))
		}
	case RWRegister:
		switch f {
		case fWrite:
			if !hasValue || isList {
				return fmt.Errorf("a write needs one value, e.g. [w x 4]")
			}
		case fRead:
			if isList && t == harness.OK {
				return fmt.Errorf("a read in the rw-register model returns one value or nil, e.g. [r x 4], not a list")
			}
		default:
			return fmt.Errorf("the rw-register model has only w and r (%s)", modelOf(f))
		}
	default:
		return fmt.Errorf("unknown model %q: want %s or %s", model, ListAppend, RWRegister)
	}
	return nil
}

// modelOf says where a micro-op belongs.
func modelOf(f uint8) string {
	switch f {
	case fAppend:
		return "an append belongs to the list-append model"
	case fWrite:
		return "a w belongs to the rw-register model"
	case fAdd:
		return "an add belongs to the bank workload's checker"
	}
	return "no model of this checker has it"
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
	if err := s.rawFrom(op); err != nil {
		s.err = err
		return err
	}
	return s.addRaw(&s.raw, pos)
}

// rawFrom fills s.raw from a transaction op.
func (s *Stream) rawFrom(op harness.Op) error {
	r := &s.raw
	r.index, r.process, r.typ, r.time = op.Index, op.Process, op.Type, op.Time
	r.mops = r.mops[:0]
	s.arena = s.arena[:0]
	for _, m := range op.Txn {
		k, err := s.key(m.Key)
		if err != nil {
			return err
		}
		rm := rawMop{f: fCode(m.F), key: k, val: nilValue}
		if rm.f == fOther {
			rm.name = m.F
		}
		switch {
		case m.List != nil:
			rm.isList = true
			rm.lo = int32(len(s.arena))
			for _, e := range m.List {
				s.arena = append(s.arena, s.in.value(e))
			}
			rm.hi = int32(len(s.arena))
		case m.Value != nil:
			rm.val = s.in.value(*m.Value)
		}
		r.mops = append(r.mops, rm)
	}
	return nil
}

// addRaw takes the next transaction op.
func (s *Stream) addRaw(op *rawOp, pos int32) error {
	if s.err != nil {
		return s.err
	}
	s.ops++
	s.seq++
	if op.typ == harness.Invoke {
		if err := s.checkMops(op, op.typ); err != nil {
			return err
		}
		s.closeBarrier()
		o := s.open[op.process]
		if o == nil {
			o = &openInv{}
			s.open[op.process] = o
		}
		*o = openInv{process: op.process, index: op.index, time: op.time, pos: pos, seq: s.seq, rtIn: int32(len(s.barrierEnd)) - 1, mops: o.mops[:0]}
		for _, m := range op.mops {
			cm := mop{key: m.key, val: m.val, n: mUnknown}
			switch m.f {
			case fAppend:
				cm.n = mAppend
			case fWrite:
				cm.n = mWrite
			}
			o.mops = append(o.mops, cm)
		}
		return nil
	}
	inv := s.open[op.process]
	if inv == nil || inv.seq == 0 {
		return nil // a completion without its invocation: nothing to pair
	}
	t := tInfo
	switch op.typ {
	case harness.OK:
		t = tOK
	case harness.Fail:
		t = tFail
	}
	comp := op
	if t != tOK || len(op.mops) == 0 {
		comp.mops = nil // what was attempted: the invocation's
	} else if err := s.checkMops(op, op.typ); err != nil {
		return err
	}
	err := s.addTxn(inv, comp, pos, s.seq, t)
	inv.seq = 0
	return err
}

// checkMops refuses micro-ops the model cannot judge.
func (s *Stream) checkMops(op *rawOp, t harness.Type) error {
	for _, m := range op.mops {
		if err := checkShape(s.o.Model, t, m.f, m.isList, m.val != nilValue); err != nil {
			s.err = &InputError{Index: op.index, Process: op.process, Msg: fmt.Sprintf("micro-op %s: %v", s.rawText(m), err)}
			return s.err
		}
	}
	return nil
}

// rawText renders a micro-op as the history has it: "[append x 4]".
func (s *Stream) rawText(m rawMop) string {
	f := m.name
	if m.f < fOther {
		f = fNames[m.f]
	}
	v := s.in.text(m.val)
	if m.isList {
		parts := make([]string, 0, m.hi-m.lo)
		for _, e := range s.arena[m.lo:m.hi] {
			parts = append(parts, s.in.text(e))
		}
		v = "[" + strings.Join(parts, " ") + "]"
	}
	return "[" + f + " " + s.in.keys[m.key] + " " + v + "]"
}

// finish turns invocations that never completed into info transactions.
func (s *Stream) finish() {
	for _, inv := range s.open {
		if inv.seq != 0 && s.err == nil {
			s.err = s.addTxn(inv, nil, -1, math.MaxInt32, tInfo)
		}
		inv.seq = 0
	}
}

// addTxn records a transaction: comp is its completion (nil: none), with
// micro-ops only when they are to be used (an ok completion's).
func (s *Stream) addTxn(inv *openInv, comp *rawOp, pos, seq int32, t txnType) error {
	id := int32(len(s.txns))
	nmop := len(inv.mops)
	if comp != nil && comp.mops != nil {
		nmop = len(comp.mops)
	}
	tx := txn{invTime: inv.time, compTime: math.MaxInt64, invIndex: inv.index, compIndex: -1,
		invSeq: inv.seq, compSeq: seq, src: -1, invSrc: inv.pos, mop0: int32(len(s.mops)), nmop: int32(nmop),
		process: int32(comp.processOr(inv)), rtIn: inv.rtIn, typ: t}
	if comp != nil {
		tx.compTime, tx.compIndex, tx.src = comp.time, comp.index, pos
	}
	s.txns = append(s.txns, tx)
	s.count[t]++
	proc := harness.Process(tx.process)
	if t != tFail {
		// Session order: from the process's last ok transaction. An info
		// transaction may still take effect later, so nothing is ordered
		// after it.
		if last, ok := s.lastOK[proc]; ok {
			s.procEdges = append(s.procEdges, [2]int32{last, id})
		}
	}
	if t == tOK {
		s.lastOK[proc] = id
		s.barrierMembers = append(s.barrierMembers, id)
	}
	var err error
	switch {
	case comp == nil || comp.mops == nil:
		s.addAttempt(id, inv.mops)
	case s.o.Model == ListAppend:
		err = s.addListTxn(id, comp.mops)
	default:
		err = s.addRegisterTxn(id, comp.mops)
	}
	if err != nil {
		s.err = err
	}
	return err
}

func (op *rawOp) processOr(inv *openInv) harness.Process {
	if op == nil {
		return inv.process
	}
	return op.process
}

// addAttempt records what an info or failed transaction attempted: its
// writes may have taken effect (info) or must not be seen (fail); its reads
// tell nothing.
func (s *Stream) addAttempt(id int32, ms []mop) {
	base := int32(len(s.mops))
	for i, m := range ms {
		s.mops = append(s.mops, m)
		if m.n == mAppend || m.n == mWrite {
			s.addWrite(m.key, m.val, id, base+int32(i))
		}
	}
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

// addListTxn ingests an ok list-append transaction.
func (s *Stream) addListTxn(id int32, rm []rawMop) error {
	base := int32(len(s.mops))
	// This transaction's appends, for future reads.
	s.scrAppends = s.scrAppends[:0]
	for i, m := range rm {
		if m.f == fAppend {
			s.mops = append(s.mops, mop{val: m.val, key: m.key, n: mAppend})
			s.scrAppends = append(s.scrAppends, scrAppend{key: m.key, val: m.val, mop: int32(i)})
			s.addWrite(m.key, m.val, id, base+int32(i))
			continue
		}
		s.mops = append(s.mops, mop{val: noValue, key: m.key, n: m.hi - m.lo})
	}
	// Reads: internal consistency, future reads, the longest read of each
	// key.
	s.scrKeys = s.scrKeys[:0]
	for i, m := range rm {
		mi := base + int32(i)
		k := m.key
		st := s.scrState(k)
		if m.f == fAppend {
			st.seen = true
			st.added = append(st.added, m.val)
			continue
		}
		vals := s.arena[m.lo:m.hi]
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

// addRegisterTxn ingests an ok rw-register transaction.
func (s *Stream) addRegisterTxn(id int32, rm []rawMop) error {
	base := int32(len(s.mops))
	s.scrKeys = s.scrKeys[:0]
	for i, m := range rm {
		mi := base + int32(i)
		k := m.key
		st := s.scrState(k)
		if m.f == fWrite {
			s.mops = append(s.mops, mop{val: m.val, key: k, n: mWrite})
			s.addWrite(k, m.val, id, mi)
			st.seen = true
			st.base = append(st.base[:0], m.val)
			continue
		}
		v := m.val
		s.mops = append(s.mops, mop{val: v, key: k, n: mRegRead})
		if st.seen && st.base[0] != v {
			s.note(finding{class: "internal", txns: []int32{id}, mop: mi, key: k, expected: []int64{st.base[0]}})
		}
		st.seen = true
		st.base = append(st.base[:0], v)
		// A read of a value this transaction writes later.
		if v != nilValue {
			for _, o := range rm[i+1:] {
				if o.f == fWrite && o.key == k && o.val == v {
					s.note(finding{class: "future-read", txns: []int32{id}, mop: mi, key: k, val: v})
				}
			}
		}
	}
	return nil
}
