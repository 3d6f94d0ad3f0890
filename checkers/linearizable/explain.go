package linearizable

import (
	"fmt"
	"sort"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// explanation of why one key is not linearizable.
type explanation struct {
	found    bool   // a direct proof was found
	text     string // the sentence
	time     int64  // completion of the violating op
	violator int    // rec index of the violating op (-1 unknown)
	named    []int  // rec indices of the ops the sentence names
	partial  []int  // rec indices of porcupine's longest partial linearization
	ops      int
}

// writer is something that may have put a value in the register: a write or
// cas that did not fail, or the initial value (call = ret = forever).
type writer struct {
	rec       int // -1 for the initial value
	call, ret int64
}

// explainKey looks for the earliest op whose result no order can explain,
// with a short proof from the ops around it. The cases, each sound on its own
// (none relies on values being unique):
//   - a read (or a successful cas) saw a value nothing could have written;
//   - it saw a value whose every write began after it completed;
//   - it saw the key absent after a write had completed (nothing deletes);
//   - it saw v, but for every write of v another write had certainly come
//     after it (began after it completed) and completed before the read began;
//   - it saw v, but an earlier completed op had seen u, and every write of u
//     began after every write of v completed.
//
// When none applies, the violation involves more ops than a sentence can
// hold, and addPartial explains it from porcupine's partial linearizations.
func explainKey(kh *keyHist, initial *string, clk clock) explanation {
	e := explainWith(kh, initial, clk)
	if !e.found || clk.positions {
		return e
	}
	// Print times precisely enough that the ones the sentence compares
	// differ: "completed at 0.05 s, before the read began at 0.05 s" proves
	// nothing to a reader.
	var ts []int64
	for _, ri := range e.named {
		if ri >= 0 {
			ts = append(ts, kh.recs[ri].call)
			if r := kh.recs[ri].ret; r != never {
				ts = append(ts, r)
			}
		}
	}
	if d := digitsFor(ts); d != clk.digits {
		clk.digits = d
		e = explainWith(kh, initial, clk)
	}
	return e
}

// digitsFor is the fewest decimals of a second (at least 2) that keep the
// distinct times in ts distinct.
func digitsFor(ts []int64) int {
	distinct := map[int64]bool{}
	for _, t := range ts {
		distinct[t] = true
	}
	for d := 2; d < 9; d++ {
		shown := map[string]bool{}
		for t := range distinct {
			shown[clock{digits: d}.bare(t)] = true
		}
		if len(shown) == len(distinct) {
			return d
		}
	}
	return 9
}

func explainWith(kh *keyHist, initial *string, clk clock) explanation {
	x := &explainer{kh: kh, recs: kh.recs, initial: initial, clk: clk,
		e: explanation{violator: -1, time: never, ops: len(kh.ops)}}
	x.gatherWriters()
	x.gatherObservations()
	for _, o := range x.observations {
		if x.recs[o.rec].ret >= x.e.time {
			continue
		}
		if o.seen == nil {
			x.absent(o)
			continue
		}
		if len(x.writers[*o.seen]) == 0 {
			x.unwritten(o)
			continue
		}
		x.overwritten(o)
	}
	if !x.e.found {
		if zonesApply(kh, initial) {
			if ze, ok := zonesExplain(kh, initial, clk); ok {
				return ze
			}
		} else if ce, ok := chainsExplain(kh, initial, clk); ok {
			return ce
		}
	}
	return x.e
}

// explainer holds what the proofs of explainWith look things up in.
type explainer struct {
	kh      *keyHist
	recs    []rec
	initial *string
	clk     clock
	e       explanation

	writers      map[string][]writer
	failedWrites map[string][]int
	okWriters    []writer // ok writes and cas, by call time
	byRetW       []writer // the same, by return time, to name the latest write before an op
	sufMin       []int    // sufMin[i]: the ok writer with the smallest return among okWriters[i:]
	firstOKWrite int      // the ok write that completed first (-1: none)

	observations []obs
	byRet        []int // observations by return time
	preMax       []int // preMax[i]: among byRet[:i+1], the observation with the largest g
	firstPresent int   // the ok observation of a present value that returned first (rec, -1: none)
}

// obs is an ok read or ok cas, with what it saw.
type obs struct {
	rec  int
	seen *string
	g    int64 // earliest call among writes of seen (forever if absent or initial)
}

func (x *explainer) gatherWriters() {
	x.writers, x.failedWrites = map[string][]writer{}, map[string][]int{}
	if x.initial != nil {
		x.writers[*x.initial] = append(x.writers[*x.initial], writer{rec: -1, call: forever, ret: forever})
	}
	for i, r := range x.recs {
		if r.kind == kRead || r.value == nil {
			continue
		}
		switch r.status {
		case stFail:
			x.failedWrites[*r.value] = append(x.failedWrites[*r.value], i)
		case stOK:
			x.okWriters = append(x.okWriters, writer{rec: i, call: r.call, ret: r.ret})
			fallthrough
		default:
			x.writers[*r.value] = append(x.writers[*r.value], writer{rec: i, call: r.call, ret: r.ret})
		}
	}
	ok := x.okWriters
	sort.Slice(ok, func(a, b int) bool { return ok[a].call < ok[b].call })
	x.byRetW = append([]writer(nil), ok...)
	sort.Slice(x.byRetW, func(a, b int) bool { return x.byRetW[a].ret < x.byRetW[b].ret })
	x.sufMin = make([]int, len(ok)+1)
	x.sufMin[len(ok)] = -1
	for i := len(ok) - 1; i >= 0; i-- {
		x.sufMin[i] = i
		if j := x.sufMin[i+1]; j >= 0 && ok[j].ret < ok[i].ret {
			x.sufMin[i] = j
		}
	}
	x.firstOKWrite = -1
	for _, w := range ok {
		if x.firstOKWrite < 0 || w.ret < x.recs[x.firstOKWrite].ret {
			x.firstOKWrite = w.rec
		}
	}
}

// bounds are the earliest invocation and the latest completion among the
// writes of v.
func (x *explainer) bounds(v string) (minCall, maxRet int64) {
	minCall, maxRet = never, forever
	for _, w := range x.writers[v] {
		minCall = min(minCall, w.call)
		maxRet = max(maxRet, w.ret)
	}
	return minCall, maxRet
}

func (x *explainer) gatherObservations() {
	recs := x.recs
	for i, r := range recs {
		if r.status != stOK {
			continue
		}
		switch r.kind {
		case kRead:
			x.observations = append(x.observations, obs{rec: i, seen: r.value})
		case kCAS:
			seen := r.from
			if seen != nil && *seen == "" && x.initial == nil && len(x.writers[""]) == 0 {
				seen = nil // Jepsen's nil expected value
			}
			x.observations = append(x.observations, obs{rec: i, seen: seen})
		}
	}
	for i := range x.observations {
		o := &x.observations[i]
		o.g = forever
		if o.seen != nil && len(x.writers[*o.seen]) > 0 {
			o.g, _ = x.bounds(*o.seen)
		}
	}
	x.byRet = make([]int, len(x.observations))
	for i := range x.byRet {
		x.byRet[i] = i
	}
	sort.Slice(x.byRet, func(a, b int) bool {
		return recs[x.observations[x.byRet[a]].rec].ret < recs[x.observations[x.byRet[b]].rec].ret
	})
	x.preMax = make([]int, len(x.byRet))
	for i, oi := range x.byRet {
		x.preMax[i] = oi
		if i > 0 && x.observations[x.preMax[i-1]].g >= x.observations[oi].g {
			x.preMax[i] = x.preMax[i-1]
		}
	}
	x.firstPresent = -1
	for _, oi := range x.byRet {
		if x.observations[oi].seen != nil {
			x.firstPresent = x.observations[oi].rec
			break
		}
	}
}

func (x *explainer) subject(ri int) string {
	r := x.recs[ri]
	if r.kind == kCAS {
		return fmt.Sprintf("%s succeeded %s, so %s held %s then", opName(x.kh.key, r), x.clk.at(r.ret), keyName(x.kh.key), showPtr(r.from))
	}
	return fmt.Sprintf("read of %s returned %s %s", keyName(x.kh.key), showPtr(r.value), x.clk.at(r.ret))
}

func (x *explainer) began(ri int) string {
	return fmt.Sprintf("before the %s began %s", opShort(x.recs[ri]), x.clk.at(x.recs[ri].call))
}

// consider keeps the proof whose violating op completed first.
func (x *explainer) consider(ri int, text string, named ...int) {
	if x.recs[ri].ret < x.e.time {
		x.e.found, x.e.time, x.e.violator, x.e.text = true, x.recs[ri].ret, ri, text
		x.e.named = append([]int{ri}, named...)
	}
}

// absent: o saw the key absent although it had certainly been written.
func (x *explainer) absent(o obs) {
	r, recs, key := x.recs[o.rec], x.recs, x.kh.key
	switch {
	case x.initial != nil:
		x.consider(o.rec, fmt.Sprintf("%s, but %s starts at %s and nothing deletes keys",
			x.subject(o.rec), keyName(key), showValue(*x.initial)))
	case x.firstOKWrite >= 0 && recs[x.firstOKWrite].ret < r.call:
		w := recs[x.firstOKWrite]
		x.consider(o.rec, fmt.Sprintf("%s, but %s had completed %s, %s, and nothing deletes keys",
			x.subject(o.rec), opName(key, w), x.clk.at(w.ret), x.began(o.rec)), x.firstOKWrite)
	case x.firstPresent >= 0 && recs[x.firstPresent].ret < r.call:
		p := recs[x.firstPresent]
		x.consider(o.rec, fmt.Sprintf("%s, but an earlier %s had already seen %s %s, %s, and nothing deletes keys",
			x.subject(o.rec), opShort(p), showPtr(seenBy(p)), x.clk.at(p.ret), x.began(o.rec)), x.firstPresent)
	}
}

// unwritten: o saw a value no write or cas (that did not fail) wrote.
func (x *explainer) unwritten(o obs) {
	v, key := *o.seen, x.kh.key
	if fw := x.failedWrites[v]; len(fw) > 0 {
		f := x.recs[fw[0]]
		x.consider(o.rec, fmt.Sprintf("%s, but the only write of %s to %s failed (%s %s)",
			x.subject(o.rec), showValue(v), keyName(key), opName(key, f), x.clk.at(f.ret)), fw[0])
		return
	}
	x.consider(o.rec, fmt.Sprintf("%s, but no operation ever wrote %s to %s",
		x.subject(o.rec), showValue(v), keyName(key)))
}

// overwritten: o saw v, but v was written only after o, or certainly
// overwritten before o began, or an earlier op saw a value written after v.
func (x *explainer) overwritten(o obs) {
	r, recs, key := x.recs[o.rec], x.recs, x.kh.key
	v := *o.seen
	ws := x.writers[v]
	minCall, maxRet := x.bounds(v)
	if minCall > r.ret {
		w := ws[0]
		x.consider(o.rec, fmt.Sprintf("%s, but %s only began %s, after that",
			x.subject(o.rec), opName(key, recs[w.rec]), x.clk.at(w.call)), w.rec)
		return
	}
	if named, ok := x.laterWrites(o, v); ok {
		x.certainlyOverwritten(o, v, named)
		return
	}
	x.earlierSawLater(o, v, maxRet)
}

// laterWrites finds, for every write of v, a write of another value that
// certainly came after it (began after it completed) and completed before o
// began; ok is false if some write of v has none.
func (x *explainer) laterWrites(o obs, v string) (named []int, ok bool) {
	r, recs := x.recs[o.rec], x.recs
	for _, w := range x.writers[v] {
		later := -1
		// first ok writer with call > w.ret
		j := sort.Search(len(x.okWriters), func(j int) bool { return x.okWriters[j].call > w.ret })
		if j < len(x.okWriters) {
			if m := x.sufMin[j]; m >= 0 && x.okWriters[m].ret < r.call && *recs[x.okWriters[m].rec].value != v {
				later = x.okWriters[m].rec
			} else if m >= 0 && x.okWriters[m].ret < r.call {
				for _, y := range x.okWriters[j:] { // rare: values written twice
					if y.ret < r.call && *recs[y.rec].value != v {
						later = y.rec
						break
					}
				}
			}
		}
		if later < 0 {
			return nil, false
		}
		// Name the latest write that completed before this op began, if it
		// too came certainly after w: the most telling one.
		k0 := sort.Search(len(x.byRetW), func(k int) bool { return x.byRetW[k].ret >= r.call }) - 1
		for k := k0; k >= 0 && k > k0-4; k-- {
			y := x.byRetW[k]
			if *recs[y.rec].value == v {
				continue
			}
			if y.call > w.ret {
				later = y.rec
			}
			break
		}
		named = append(named, later)
	}
	return named, true
}

// certainlyOverwritten words laterWrites' proof.
func (x *explainer) certainlyOverwritten(o obs, v string, named []int) {
	recs, key, clk := x.recs, x.kh.key, x.clk
	ws := x.writers[v]
	if len(ws) == 1 {
		y := recs[named[0]]
		how := fmt.Sprintf("%s was the initial value", showValue(v))
		refs := []int{named[0]}
		if w := ws[0]; w.rec >= 0 {
			how = fmt.Sprintf("%s had completed %s, before %s began", opName(key, recs[w.rec]), clk.at(w.ret), opName(key, y))
			refs = append(refs, w.rec)
		}
		x.consider(o.rec, fmt.Sprintf("%s, but %s had completed %s, %s, and nothing wrote %s after it (%s)",
			x.subject(o.rec), opName(key, y), clk.at(y.ret), x.began(o.rec), showValue(v), how), refs...)
		return
	}
	// Values written more than once: name the latest write of v and the
	// write that certainly followed it.
	last := 0
	for j, w := range ws {
		if w.call > ws[last].call {
			last = j
		}
	}
	y := recs[named[last]]
	refs := []int{named[last]}
	lastw := "the initial value"
	if w := ws[last]; w.rec >= 0 {
		lastw = fmt.Sprintf("%s, completed %s", opName(key, recs[w.rec]), clk.at(w.ret))
		refs = append(refs, w.rec)
	}
	x.consider(o.rec, fmt.Sprintf("%s, but each of the %d writes of %s was followed by another write that completed %s (the latest, %s, by %s, completed %s)",
		x.subject(o.rec), len(ws), showValue(v), x.began(o.rec), lastw, opName(key, y), clk.at(y.ret)), refs...)
}

// earlierSawLater: an op that completed before o began saw a value u whose
// every write began after every write of v completed.
func (x *explainer) earlierSawLater(o obs, v string, maxRet int64) {
	r, recs, key, clk := x.recs[o.rec], x.recs, x.kh.key, x.clk
	i := sort.Search(len(x.byRet), func(i int) bool { return recs[x.observations[x.byRet[i]].rec].ret >= r.call }) - 1
	if i < 0 {
		return
	}
	p := x.observations[x.preMax[i]]
	if p.g <= maxRet {
		return
	}
	ws := x.writers[v]
	pr := recs[p.rec]
	u := *p.seen
	xw := x.writers[u][0]
	refs := []int{p.rec, xw.rec}
	how := fmt.Sprintf("%s began %s", opName(key, recs[xw.rec]), clk.at(xw.call))
	if len(x.writers[u]) > 1 {
		how = fmt.Sprintf("every write of %s began %s or later", showValue(u), clk.at(p.g))
	}
	after := "the initial value"
	if w := ws[0]; w.rec >= 0 {
		refs = append(refs, w.rec)
		after = fmt.Sprintf("%s completed %s", opName(key, recs[w.rec]), clk.at(w.ret))
		if len(ws) > 1 {
			after = fmt.Sprintf("every write of %s had completed", showValue(v))
		}
	}
	x.consider(o.rec, fmt.Sprintf("%s, but an earlier %s had already seen %s %s, %s, and %s was written after %s (%s, after %s)",
		x.subject(o.rec), opShort(pr), showValue(u), clk.at(pr.ret), x.began(o.rec), showValue(u), showValue(v), how, after), refs...)
}

// setPartial records porcupine's longest partial linearization (indices
// into kh.ops) for the report.
func (e *explanation) setPartial(kh *keyHist, lin []int) {
	e.partial = e.partial[:0]
	for _, id := range lin {
		e.partial = append(e.partial, kh.ops[id].Metadata.(*meta).rec)
	}
}

// fallback explains a key no direct proof covers from porcupine's longest
// partial linearization of the searched ops (kept), from a search that
// completed: the op that completed first among those it could not place.
func (e *explanation) fallback(kh *keyHist, lin, kept []int, initial *string, clk clock) {
	e.setPartial(kh, lin) // this search completed; a drawn one may not have
	in := map[int]bool{}
	for _, id := range lin {
		in[id] = true
	}
	blocked := -1
	for _, id := range kept {
		op := kh.ops[id]
		if !in[id] && op.Return != never && (blocked < 0 || op.Return < kh.ops[blocked].Return) {
			blocked = id
		}
	}
	if blocked < 0 {
		return
	}
	// The register's value after the partial linearization.
	st := model(initial, nil).Init()
	for _, id := range lin {
		_, st = step(st, kh.ops[id].Input, kh.ops[id].Output)
	}
	ri := kh.ops[blocked].Metadata.(*meta).rec
	r := kh.recs[ri]
	held := describeState(st)
	var what string
	switch r.kind {
	case kRead:
		what = fmt.Sprintf("read of %s returned %s %s", keyName(kh.key), showPtr(r.value), clk.at(r.ret))
	default:
		what = fmt.Sprintf("%s completed %s", opName(kh.key, r), clk.at(r.ret))
	}
	e.found, e.time, e.violator = true, r.ret, ri
	e.named = []int{ri}
	if n := len(e.partial); n > 0 {
		e.named = append(e.named, e.partial[n-1])
	}
	e.text = fmt.Sprintf("%s, but no order of the operations on %s that respects real time explains it: the longest one porcupine found places %d of %d operations and leaves %s holding %s, and this one cannot follow",
		what, keyName(kh.key), len(lin), len(kept), keyName(kh.key), held)
}

const windowMax = 30

// window is the smallest failing window: the named ops and the ops of the
// key that overlap the time from the earliest named invocation to the
// violation, at most windowMax of them besides the named ones (the nearest to
// the violation).
func (e *explanation) window(kh *keyHist) (named, window []int) {
	if e.violator < 0 {
		return nil, nil
	}
	t0, t1 := kh.recs[e.violator].call, e.time
	isNamed := map[int]bool{}
	for _, ri := range e.named {
		if ri >= 0 {
			isNamed[ri] = true
			named = append(named, ri)
			t0 = min(t0, kh.recs[ri].call)
		}
	}
	var others []int
	for i, r := range kh.recs {
		if isNamed[i] {
			continue
		}
		if r.call <= t1 && r.ret >= t0 {
			others = append(others, i)
		}
	}
	if len(others) > windowMax {
		// keep the latest-invoked ones: nearest the violation
		others = others[len(others)-windowMax:]
	}
	window = append(append(window, named...), others...)
	sort.Ints(window)
	sort.Ints(named)
	return named, window
}

func (e explanation) bounds(kh *keyHist) (int64, int64) {
	_, w := e.window(kh)
	if len(w) == 0 {
		return 0, 0
	}
	t0 := kh.recs[w[0]].call
	for _, ri := range w {
		t0 = min(t0, kh.recs[ri].call)
	}
	return t0, e.time
}

func (e explanation) anomaly(kh *keyHist) harness.Anomaly {
	a := harness.Anomaly{Checker: Name, Key: kh.key, Explanation: e.text}
	if e.violator < 0 {
		a.Explanation = fmt.Sprintf("the %d operations on %s admit no linearization (the search found no simpler proof in time)", len(kh.ops), keyName(kh.key))
		last := kh.recs[len(kh.recs)-1]
		a.Time = last.call
		return a
	}
	a.Time = e.time
	// A system may annotate an ok op with a caveat (etcd's serializable
	// reads say they may be stale by design); the verdict should say it too.
	if c := kh.recs[e.violator].comp; c != nil && c.Type == harness.OK && c.Error != "" {
		a.Explanation += fmt.Sprintf(". The system noted on that %s: %q", c.F, c.Error)
	}
	named, window := e.window(kh)
	a.Ops = historyOps(kh, named)
	a.Window = historyOps(kh, window)
	return a
}

func (e explanation) details(kh *keyHist) KeyDetails {
	d := KeyDetails{Key: kh.key, Ops: len(kh.ops), Linearized: -1, Violation: -1, Time: e.time}
	if e.partial != nil {
		d.Linearized = len(e.partial)
		for _, ri := range e.partial {
			d.Partial = append(d.Partial, kh.recs[ri].inv.Index)
		}
	}
	if e.violator >= 0 {
		d.Violation = kh.recs[e.violator].inv.Index
		d.WindowStart, d.WindowEnd = e.bounds(kh)
	} else {
		d.Time = 0
	}
	return d
}

// historyOps returns the invocations and completions of the given records,
// in history order.
func historyOps(kh *keyHist, ris []int) []harness.Op {
	var ops []harness.Op
	for _, ri := range ris {
		r := kh.recs[ri]
		ops = append(ops, *r.inv)
		if r.comp != nil {
			ops = append(ops, *r.comp)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Index < ops[j].Index })
	return ops
}

func keyName(k string) string {
	if k == "" {
		return "the register"
	}
	return showValue(k)
}

// opName names a write or cas with its key: "write k3=9", "cas k3 7→9".
func opName(key string, r rec) string {
	k := showValue(key)
	if key == "" {
		k = "reg"
	}
	switch r.kind {
	case kWrite:
		return fmt.Sprintf("write %s=%s", k, showPtr(r.value))
	case kCAS:
		return fmt.Sprintf("cas %s %s→%s", k, showPtr(r.from), showPtr(r.value))
	default:
		return "read of " + k
	}
}

func opShort(r rec) string {
	switch r.kind {
	case kWrite:
		return "write"
	case kCAS:
		return "cas"
	default:
		return "read"
	}
}

// seenBy is what an ok read returned or an ok cas expected.
func seenBy(r rec) *string {
	if r.kind == kCAS {
		return r.from
	}
	return r.value
}
