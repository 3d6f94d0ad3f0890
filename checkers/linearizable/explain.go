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
	e := explanation{violator: -1, time: never, ops: len(kh.ops)}
	recs := kh.recs
	writers := map[string][]writer{}
	failedWrites := map[string][]int{}
	var okWriters []writer // ok writes and cas, by call time
	if initial != nil {
		writers[*initial] = append(writers[*initial], writer{rec: -1, call: forever, ret: forever})
	}
	for i, r := range recs {
		if r.kind == kRead || r.value == nil {
			continue
		}
		switch r.status {
		case stFail:
			failedWrites[*r.value] = append(failedWrites[*r.value], i)
		case stOK:
			okWriters = append(okWriters, writer{rec: i, call: r.call, ret: r.ret})
			fallthrough
		default:
			writers[*r.value] = append(writers[*r.value], writer{rec: i, call: r.call, ret: r.ret})
		}
	}
	sort.Slice(okWriters, func(a, b int) bool { return okWriters[a].call < okWriters[b].call })
	// byRetW: the same, by return time, to name the latest write before an op.
	byRetW := append([]writer(nil), okWriters...)
	sort.Slice(byRetW, func(a, b int) bool { return byRetW[a].ret < byRetW[b].ret })
	// sufMin[i]: the ok writer with the smallest return among okWriters[i:].
	sufMin := make([]int, len(okWriters)+1)
	sufMin[len(okWriters)] = -1
	for i := len(okWriters) - 1; i >= 0; i-- {
		sufMin[i] = i
		if j := sufMin[i+1]; j >= 0 && okWriters[j].ret < okWriters[i].ret {
			sufMin[i] = j
		}
	}
	bounds := func(v string) (minCall, maxRet int64) {
		ws := writers[v]
		minCall, maxRet = never, forever
		for _, w := range ws {
			minCall = min(minCall, w.call)
			maxRet = max(maxRet, w.ret)
		}
		return minCall, maxRet
	}
	// Observations: ok reads and ok cas, with what they saw.
	type obs struct {
		rec  int
		seen *string
		g    int64 // earliest call among writes of seen (forever if absent or initial)
	}
	var observations []obs
	for i, r := range recs {
		if r.status != stOK {
			continue
		}
		switch r.kind {
		case kRead:
			observations = append(observations, obs{rec: i, seen: r.value})
		case kCAS:
			seen := r.from
			if seen != nil && *seen == "" && initial == nil && len(writers[""]) == 0 {
				seen = nil // Jepsen's nil expected value
			}
			observations = append(observations, obs{rec: i, seen: seen})
		}
	}
	for i := range observations {
		o := &observations[i]
		o.g = forever
		if o.seen != nil && len(writers[*o.seen]) > 0 {
			o.g, _ = bounds(*o.seen)
		}
	}
	byRet := make([]int, len(observations))
	for i := range byRet {
		byRet[i] = i
	}
	sort.Slice(byRet, func(a, b int) bool {
		return recs[observations[byRet[a]].rec].ret < recs[observations[byRet[b]].rec].ret
	})
	// preMax[i]: among byRet[:i+1], the observation with the largest g.
	preMax := make([]int, len(byRet))
	for i, oi := range byRet {
		preMax[i] = oi
		if i > 0 && observations[preMax[i-1]].g >= observations[oi].g {
			preMax[i] = preMax[i-1]
		}
	}
	// firstPresent: the ok observation of a present value that returned first.
	firstPresent := -1
	for _, oi := range byRet {
		if observations[oi].seen != nil {
			firstPresent = observations[oi].rec
			break
		}
	}
	// earliest ok write completion
	firstOKWrite := -1
	for _, w := range okWriters {
		if firstOKWrite < 0 || w.ret < recs[firstOKWrite].ret {
			firstOKWrite = w.rec
		}
	}

	subject := func(ri int) string {
		r := recs[ri]
		if r.kind == kCAS {
			return fmt.Sprintf("%s succeeded %s, so %s held %s then", opName(kh.key, r), clk.at(r.ret), keyName(kh.key), showPtr(r.from))
		}
		return fmt.Sprintf("read of %s returned %s %s", keyName(kh.key), showPtr(r.value), clk.at(r.ret))
	}
	began := func(ri int) string {
		return fmt.Sprintf("before the %s began %s", opShort(recs[ri]), clk.at(recs[ri].call))
	}
	consider := func(ri int, text string, named ...int) {
		if recs[ri].ret < e.time {
			e.found, e.time, e.violator, e.text = true, recs[ri].ret, ri, text
			e.named = append([]int{ri}, named...)
		}
	}

	for _, o := range observations {
		r := recs[o.rec]
		if r.ret >= e.time {
			continue
		}
		if o.seen == nil {
			if initial != nil {
				consider(o.rec, fmt.Sprintf("%s, but %s starts at %s and nothing deletes keys",
					subject(o.rec), keyName(kh.key), showValue(*initial)))
				continue
			}
			if firstOKWrite >= 0 && recs[firstOKWrite].ret < r.call {
				w := recs[firstOKWrite]
				consider(o.rec, fmt.Sprintf("%s, but %s had completed %s, %s, and nothing deletes keys",
					subject(o.rec), opName(kh.key, w), clk.at(w.ret), began(o.rec)), firstOKWrite)
				continue
			}
			if firstPresent >= 0 && recs[firstPresent].ret < r.call {
				p := recs[firstPresent]
				consider(o.rec, fmt.Sprintf("%s, but an earlier %s had already seen %s %s, %s, and nothing deletes keys",
					subject(o.rec), opShort(p), showPtr(seenBy(p)), clk.at(p.ret), began(o.rec)), firstPresent)
			}
			continue
		}
		v := *o.seen
		ws := writers[v]
		if len(ws) == 0 {
			if fw := failedWrites[v]; len(fw) > 0 {
				f := recs[fw[0]]
				consider(o.rec, fmt.Sprintf("%s, but the only write of %s to %s failed (%s %s)",
					subject(o.rec), showValue(v), keyName(kh.key), opName(kh.key, f), clk.at(f.ret)), fw[0])
			} else {
				consider(o.rec, fmt.Sprintf("%s, but no operation ever wrote %s to %s",
					subject(o.rec), showValue(v), keyName(kh.key)))
			}
			continue
		}
		minCall, maxRet := bounds(v)
		if minCall > r.ret {
			w := ws[0]
			consider(o.rec, fmt.Sprintf("%s, but %s only began %s, after that",
				subject(o.rec), opName(kh.key, recs[w.rec]), clk.at(w.call)), w.rec)
			continue
		}
		// A later write certainly between every write of v and this op.
		var named []int
		ok := true
		for _, w := range ws {
			later := -1
			// first ok writer with call > w.ret
			j := sort.Search(len(okWriters), func(j int) bool { return okWriters[j].call > w.ret })
			if j < len(okWriters) {
				if m := sufMin[j]; m >= 0 && okWriters[m].ret < r.call && *recs[okWriters[m].rec].value != v {
					later = okWriters[m].rec
				} else if m >= 0 && okWriters[m].ret < r.call {
					for _, x := range okWriters[j:] { // rare: values written twice
						if x.ret < r.call && *recs[x.rec].value != v {
							later = x.rec
							break
						}
					}
				}
			}
			if later < 0 {
				ok = false
				break
			}
			// Name the latest write that completed before this op began,
			// if it too came certainly after w: the most telling one.
			k0 := sort.Search(len(byRetW), func(k int) bool { return byRetW[k].ret >= r.call }) - 1
			for k := k0; k >= 0 && k > k0-4; k-- {
				x := byRetW[k]
				if *recs[x.rec].value == v {
					continue
				}
				if x.call > w.ret {
					later = x.rec
				}
				break
			}
			named = append(named, later)
		}
		if ok && len(ws) == 1 {
			x := recs[named[0]]
			how := fmt.Sprintf("%s was the initial value", showValue(v))
			refs := []int{named[0]}
			if w := ws[0]; w.rec >= 0 {
				how = fmt.Sprintf("%s had completed %s, before %s began", opName(kh.key, recs[w.rec]), clk.at(w.ret), opName(kh.key, x))
				refs = append(refs, w.rec)
			}
			consider(o.rec, fmt.Sprintf("%s, but %s had completed %s, %s, and nothing wrote %s after it (%s)",
				subject(o.rec), opName(kh.key, x), clk.at(x.ret), began(o.rec), showValue(v), how), refs...)
			continue
		}
		if ok {
			// Values written more than once: name the latest write of v
			// and the write that certainly followed it.
			last := 0
			for j, w := range ws {
				if w.call > ws[last].call {
					last = j
				}
			}
			x := recs[named[last]]
			refs := []int{named[last]}
			lastw := "the initial value"
			if w := ws[last]; w.rec >= 0 {
				lastw = fmt.Sprintf("%s, completed %s", opName(kh.key, recs[w.rec]), clk.at(w.ret))
				refs = append(refs, w.rec)
			}
			consider(o.rec, fmt.Sprintf("%s, but each of the %d writes of %s was followed by another write that completed %s (the latest, %s, by %s, completed %s)",
				subject(o.rec), len(ws), showValue(v), began(o.rec), lastw, opName(kh.key, x), clk.at(x.ret)), refs...)
			continue
		}
		// An earlier op saw a value written only after every write of v.
		i := sort.Search(len(byRet), func(i int) bool { return recs[observations[byRet[i]].rec].ret >= r.call }) - 1
		if i >= 0 {
			if p := observations[preMax[i]]; p.g > maxRet {
				pr := recs[p.rec]
				u := *p.seen
				xw := writers[u][0]
				refs := []int{p.rec, xw.rec}
				how := fmt.Sprintf("%s began %s", opName(kh.key, recs[xw.rec]), clk.at(xw.call))
				if len(writers[u]) > 1 {
					how = fmt.Sprintf("every write of %s began %s or later", showValue(u), clk.at(p.g))
				}
				after := "the initial value"
				if w := ws[0]; w.rec >= 0 {
					refs = append(refs, w.rec)
					after = fmt.Sprintf("%s completed %s", opName(kh.key, recs[w.rec]), clk.at(w.ret))
					if len(ws) > 1 {
						after = fmt.Sprintf("every write of %s had completed", showValue(v))
					}
				}
				consider(o.rec, fmt.Sprintf("%s, but an earlier %s had already seen %s %s, %s, and %s was written after %s (%s, after %s)",
					subject(o.rec), opShort(pr), showValue(u), clk.at(pr.ret), began(o.rec), showValue(u), showValue(v), how, after), refs...)
			}
		}
	}
	if !e.found && zonesApply(kh, initial) {
		if ze, ok := zonesExplain(kh, initial, clk); ok {
			return ze
		}
	}
	return e
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
	a := harness.Anomaly{Checker: "linearizable", Key: kh.key, Explanation: e.text}
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
