package linearizable

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/harness"
)

const (
	never   = math.MaxInt64 // return time of info ops: they may take effect at any later time
	forever = math.MinInt64 // call and return of the initial value's "write"
)

type status uint8

const (
	stOK status = iota
	stInfo
	stFail
)

// rec is one read, write or cas of a key: its invocation and what became of it.
type rec struct {
	inv    *harness.Op // into the checked history, which is not copied
	comp   *harness.Op // nil: never completed (treated as info)
	kind   kind
	status status
	call   int64
	ret    int64   // never for info ops
	value  *string // read: what it returned (nil = absent); write/cas: new value
	from   *string // cas: expected value
}

// keyHist is everything about one key.
type keyHist struct {
	key      string
	recs     []rec                 // every op of the key, in invocation order
	ops      []porcupine.Operation // what porcupine checks; Metadata is *meta
	pruned   int                   // info writes dropped because nothing observed their value
	bounded  int                   // info writes given the return of their value's first observer
	searched *searched             // porcupine's search, for a failing key it decided
	nRecs    int                   // len(recs) and len(ops), kept when a valid key lets them go
	nOps     int
	first    int64 // earliest invocation, to order keys
}

// split groups the register ops of h by key, in order of first appearance.
// Failed ops certainly did not happen and are dropped; reads whose outcome is
// unknown constrain nothing and are dropped; info writes and cas get return
// time +∞, then build prunes and bounds them (unless opts.NoPrune). Ops of
// other functions are counted in ignored.
func split(h harness.History, opts Options) (keys []*keyHist, ignored int) {
	keys, ignored = splitRecs(h, opts)
	for _, kh := range keys {
		kh.build(opts)
	}
	return keys, ignored
}

// splitRecs is split without build, which check runs in parallel.
func splitRecs(h harness.History, opts Options) (keys []*keyHist, ignored int) {
	type at struct {
		kh *keyHist
		i  int
	}
	byKey := map[string]*keyHist{}
	open := map[harness.Process]at{}
	for i := range h {
		op := &h[i]
		if op.IsNemesis() {
			continue
		}
		if op.Type != harness.Invoke {
			// The next op of the same process completes its invocation.
			if o, ok := open[op.Process]; ok {
				complete(&o.kh.recs[o.i], op, opts)
				delete(open, op.Process)
			}
			continue
		}
		var k kind
		switch op.F {
		case harness.FRead:
			k = kRead
		case harness.FWrite:
			k = kWrite
		case harness.FCAS:
			k = kCAS
		default:
			ignored++
			delete(open, op.Process)
			continue
		}
		r := rec{inv: op, kind: k, call: op.Time, ret: never, status: stInfo}
		switch k {
		case kWrite:
			r.value = op.Value
		case kCAS:
			r.value, r.from = op.Value, op.From
		}
		kh := byKey[op.Key]
		if kh == nil {
			kh = &keyHist{key: op.Key, first: r.call}
			byKey[op.Key] = kh
			keys = append(keys, kh)
		}
		kh.recs = append(kh.recs, r)
		open[op.Process] = at{kh, len(kh.recs) - 1}
	}
	return keys, ignored
}

// complete records the completion c of r.
func complete(r *rec, c *harness.Op, opts Options) {
	r.comp = c
	switch c.Type {
	case harness.OK:
		r.status, r.ret = stOK, c.Time
	case harness.Fail:
		r.status, r.ret = stFail, c.Time
	}
	if r.kind == kRead && r.status == stOK {
		r.value = c.Value
		if r.value == nil && opts.NilReadsUnknown {
			r.status = stInfo // dropped later, as unknown reads are
		}
	}
}

// build turns the key's records into porcupine operations. Info writes and
// cas are what make the search slow: with return time +∞ each stays
// concurrent with everything after it. Two rewrites, neither of which changes
// the verdict, tame them.
//
// Pruning: an info write or cas of value v that no kept op observes — no ok
// read returned v, no ok cas expected v, no kept info cas expected v — is
// dropped; an info cas is kept when its own value is observed, so the kept
// set is a fixpoint. If the history with the dropped ops is linearizable, so
// is the one without them: take the linearization and remove them; until the
// next op that changes the state, the ops that followed a removed one saw its
// value, so they cannot be reads of it or cas (ok or kept) from it; an ok cas
// from another value could not follow it either; what remains are info cas
// from other values that did nothing there, which may move to the end (an
// info op may take effect late or never; such a cas is never bounded, below,
// as the only writer of an observed value must have taken effect).
// Conversely, an info op can always be linearized at the end. Counting kept
// info cas from v as observers is what keeps this safe with cas; counting
// only reads would not be. Values need not be unique.
//
// Bounding: an info write or cas that is the only op that can have written v
// (v is not the initial value, nothing else writes v), must be linearized
// before any op that observed v (an ok read of v, an ok cas from v), so it
// may end when the first of them returned: every op invoked later comes
// after that observer, hence after the write, in any linearization anyway.
// This one needs v to be written once; Gauntlet's workloads make all written
// values unique, Jepsen's cas-register tests do not.
func (kh *keyHist) build(opts Options) {
	var info map[string]*infoValue
	if !opts.NoPrune {
		info = infoValues(kh.recs)
	}
	kh.ops = make([]porcupine.Operation, 0, len(kh.recs))
	// One allocation each for the ops' inputs, outputs and metadata, which
	// the operations point into (boxing values would allocate per op).
	ins := make([]input, 0, len(kh.recs))
	outs := make([]output, 0, len(kh.recs))
	metas := make([]meta, 0, len(kh.recs))
	for i, r := range kh.recs {
		if r.status == stFail || (r.kind == kRead && r.status != stOK) {
			continue
		}
		if r.kind != kRead && r.value == nil {
			continue // a write of nothing: malformed, nothing to check
		}
		in := input{kind: r.kind, key: kh.key, from: r.from}
		if r.value != nil && r.kind != kRead {
			in.to = *r.value
		}
		out := output{known: r.status == stOK}
		if r.kind == kRead {
			out.value = r.value
		}
		ret := r.ret
		if !opts.NoPrune && r.status == stInfo && r.kind != kRead {
			iv := info[in.to]
			if !iv.observed {
				kh.pruned++
				continue
			}
			t, seen := iv.firstSeen, iv.seen
			initial := opts.Initial != nil && *opts.Initial == in.to
			// "" is excluded: a cas expecting "" may have seen the
			// absent register (see matches), not this write.
			if seen && iv.writers == 1 && !initial && in.to != "" && t >= r.call {
				ret = t
				kh.bounded++
			}
		}
		ins, outs, metas = append(ins, in), append(outs, out), append(metas, meta{rec: i})
		kh.ops = append(kh.ops, porcupine.Operation{
			ClientId: 0, Input: &ins[len(ins)-1], Output: &outs[len(outs)-1], Call: r.call, Return: ret,
			Metadata: &metas[len(metas)-1],
		})
	}
}

// infoValue is what pruning and bounding need to know of a value some info
// write or cas wrote.
type infoValue struct {
	observed  bool  // an ok read or cas saw it, or a kept info cas expected it
	seen      bool  // an ok read or cas saw it, the first returning at firstSeen
	firstSeen int64 //
	writers   int   // writes and cas of it that did not fail
	casFrom   []string
}

// infoValues finds the values info writes and cas wrote (usually few) and
// what observed them. The maps stay as small as the info ops.
func infoValues(recs []rec) map[string]*infoValue {
	var info map[string]*infoValue
	for _, r := range recs {
		if r.kind != kRead && r.status == stInfo && r.value != nil {
			if info == nil {
				info = map[string]*infoValue{}
			}
			iv := info[*r.value]
			if iv == nil {
				iv = &infoValue{}
				info[*r.value] = iv
			}
			if r.kind == kCAS && r.from != nil {
				iv.casFrom = append(iv.casFrom, *r.from)
			}
		}
	}
	if info == nil {
		return nil
	}
	var todo []string
	for _, r := range recs {
		var seen *string
		switch {
		case r.kind == kRead && r.status == stOK:
			seen = r.value
		case r.kind == kCAS && r.status == stOK:
			seen = r.from
		}
		if r.kind != kRead && r.status != stFail && r.value != nil {
			if iv := info[*r.value]; iv != nil {
				iv.writers++
			}
		}
		if seen == nil {
			continue
		}
		if iv := info[*seen]; iv != nil {
			if !iv.observed {
				todo = append(todo, *seen)
			}
			iv.observed = true
			if !iv.seen || r.ret < iv.firstSeen {
				iv.seen, iv.firstSeen = true, r.ret
			}
		}
	}
	// An info cas observes its from only if it is kept itself, i.e. if its
	// own value is observed: grow the kept set to a fixpoint, each newly
	// observed value visiting the info cas that wrote it.
	for len(todo) > 0 {
		v := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, from := range info[v].casFrom {
			if iv := info[from]; iv != nil && !iv.observed {
				iv.observed = true
				todo = append(todo, from)
			}
		}
	}
	return info
}

// showValue renders a value for sentences and the visualization.
func showValue(v string) string {
	const max = 40
	if v == "" {
		return `""`
	}
	quote := false
	for _, c := range v {
		if c <= ' ' || c == '"' || c == 0x7f || c == utf8.RuneError {
			quote = true
			break
		}
	}
	if utf8.RuneCountInString(v) > max {
		r := []rune(v)
		v = string(r[:max]) + "…"
	}
	if quote {
		return strconv.Quote(v)
	}
	return v
}

func showPtr(v *string) string {
	if v == nil {
		return "nothing (absent)"
	}
	return showValue(*v)
}

// clock renders times: seconds since the test started (with digits
// decimals, at least 2), or op positions for imported histories that carry
// no times.
type clock struct {
	positions bool
	digits    int
}

func newClock(h harness.History) clock {
	if len(h) == 0 {
		return clock{}
	}
	for _, op := range h {
		if op.Time != int64(op.Index) {
			return clock{}
		}
	}
	return clock{positions: true}
}

func (c clock) at(t int64) string {
	if c.positions {
		return fmt.Sprintf("at position %d", t)
	}
	return "at " + c.bare(t)
}

func (c clock) bare(t int64) string {
	if c.positions {
		return fmt.Sprintf("position %d", t)
	}
	return fmt.Sprintf("%.*f s", max(c.digits, 2), float64(t)/1e9)
}
