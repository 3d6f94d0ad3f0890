// Package linearizable checks that a history of reads, writes and
// compare-and-sets on independent registers is linearizable, key by key: a
// key whose written values are unique by chains in O(n log n) (chains.go),
// any other with porcupine's search within a memory budget.
//
// Semantics (Knossos's): failed ops certainly did not happen and are dropped;
// reads whose outcome is unknown are dropped; info writes and cas may take
// effect at any time after their invocation, or never. A check that runs out
// of time or memory is unknown, never valid. For every key that is not linearizable the
// result holds an anomaly explained in words, derived from the ops that prove
// it, and the smallest failing window around it.
package linearizable

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/budget"
	"github.com/gauntlet-dev/gauntlet/checkers/internal/notxn"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Options tune the check. The zero value is ready to use.
type Options struct {
	// Timeout bounds the whole check (default 30 s); a context deadline
	// that comes sooner wins. When it expires, undecided keys make the
	// result unknown.
	Timeout time.Duration
	// Initial is the value every key holds before the first write; nil means
	// absent (Gauntlet's store and Knossos's cas-register start absent).
	Initial *string
	// NilReadsUnknown follows Knossos's register models, where a read of nil
	// means "we don't know what the read returned" and fits any state.
	// Gauntlet's own histories leave it false: there nil means absent.
	NilReadsUnknown bool
	// NoPrune checks info writes as recorded: it neither drops those whose
	// value nothing observed nor bounds those whose value was observed (see
	// keyHist.build). Both rewrites keep the verdict; they only speed it up.
	NoPrune bool
	// Workers is how many keys are searched at once (default GOMAXPROCS).
	Workers int
	// MaxDrawn is how many failing keys linearizability.html shows (default 5).
	MaxDrawn int
	// MemoryBudget bounds how much the check's searches may grow the heap,
	// in bytes (0: budget.Default(), 2 GiB unless GAUNTLET_CHECK_MEMORY says
	// otherwise). A search that would exceed it stops, and its key is
	// undecided: the result is unknown, never an out-of-memory kill.
	MemoryBudget int64
}

// FileName is the visualization written into the run directory.
const FileName = "linearizability.html"

// Checker is the linearizability checker.
type Checker struct{ opts Options }

// New returns a checker with the given options.
func New(opts Options) Checker { return Checker{opts: opts} }

// Name is the register checker's: distinct from the other checkers of
// linearizability (append-register, multi-register, mutex), whose models differ.
func (Checker) Name() string { return Name }

// Name names the checker and its results.
const Name = "register"

// View is the drawing its results ask a report for: porcupine's view of
// each failing key, the pages Details lists (Result.View).
const View = "linearization"

const judges = "reads, writes and cas of single-key registers"

// ValidateHistory refuses transactions (harness.HistoryValidator).
func (c Checker) ValidateHistory(h harness.History) *harness.OpError {
	return notxn.Validate(c.Name(), judges, h)
}

// Check judges in.History and, when in.Dir is set and some key is not
// linearizable, writes linearizability.html there.
func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	return check(ctx, in, c.opts)
}

// Check judges h and writes nothing; for importers and reports.
func Check(ctx context.Context, h harness.History, opts Options) harness.Result {
	return check(ctx, harness.CheckInput{History: h}, opts)
}

// Details is the checker's Result.Details.
type Details struct {
	Keys   int `json:"keys"`
	Ops    int `json:"ops"`    // ops porcupine searched
	Pruned int `json:"pruned"` // info writes dropped because nothing observed them
	// Bounded counts info writes given an end: the return of the first op
	// that observed their (unique) value.
	Bounded   int `json:"bounded"`
	Dropped   int `json:"dropped"`
	Ignored   int `json:"ignored,omitempty"` // ops of other functions
	ValidKeys int `json:"valid_keys"`
	// Zoned counts keys decided by chains rather than porcupine's search
	// (keys whose written values are unique; see chains.go).
	Zoned int `json:"zoned,omitempty"`
	// Invalid holds the keys that are not linearizable, first violation first.
	Invalid []KeyDetails `json:"invalid,omitempty"`
	// Undecided lists keys whose search timed out or never started.
	Undecided []string `json:"undecided,omitempty"`
	Elapsed   float64  `json:"elapsed_s"`
	Timeout   float64  `json:"timeout_s"`
	// Drawn lists the keys shown in linearizability.html, if it was
	// written; Views their porcupine pages, relative to the run directory
	// (in the same order), which reports embed without searching again.
	Drawn []string `json:"drawn,omitempty"`
	Views []string `json:"views,omitempty"`
	// Undrawn lists the failing keys the check did not draw (beyond
	// MaxDrawn, or beyond the time and memory drawing may take): reports do
	// not search for them again.
	Undrawn []string `json:"undrawn,omitempty"`
}

// KeyDetails describes one non-linearizable key.
type KeyDetails struct {
	Key string `json:"key"`
	Ops int    `json:"ops"`
	// Linearized is the length of the longest partial linearization
	// porcupine found (-1 when it was not computed).
	Linearized int `json:"linearized"`
	// Partial is that linearization, as the history indices of the ops'
	// invocations, in linearization order.
	Partial []int `json:"partial,omitempty"`
	// Violation is the history index of the invocation of the first op that
	// proves the violation; Time is when that op completed.
	Violation int   `json:"violation"`
	Time      int64 `json:"time"`
	// WindowStart and WindowEnd bound the smallest failing window (ns).
	WindowStart int64 `json:"window_start"`
	WindowEnd   int64 `json:"window_end"`
}

func check(ctx context.Context, in harness.CheckInput, opts Options) harness.Result {
	if r, refused := notxn.Refuse(Name, judges, in.History); refused {
		return r
	}
	start := time.Now()
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	mem := budget.Start(opts.MemoryBudget)
	defer mem.Stop()
	res := harness.Result{Checker: Name, View: View}
	keys, ignored := splitRecs(in.History, opts)
	det := Details{Keys: len(keys), Ignored: ignored, Timeout: timeout.Seconds()}
	results, zoned := searchAll(ctx, keys, opts, deadline, mem)
	det.Zoned = zoned
	for _, kh := range keys {
		det.Ops += kh.nOps
		det.Pruned += kh.pruned
		det.Bounded += kh.bounded
		det.Dropped += kh.nRecs - kh.nOps - kh.pruned
	}
	var failing []*keyHist
	for i, kh := range keys {
		switch results[i] {
		case porcupine.Ok:
			det.ValidKeys++
		case porcupine.Illegal:
			failing = append(failing, kh)
		default:
			det.Undecided = append(det.Undecided, kh.key)
		}
	}
	// The views and the partial linearizations are niceties: together they
	// may not eat the time or memory of other checks. Only a check that
	// writes its views searches for them.
	mem.Stop()
	limit := opts.MemoryBudget
	if limit <= 0 {
		limit = budget.Default()
	}
	drawMem := budget.Start(min(limit, drawBudget))
	defer drawMem.Stop()
	f := &failures{keys: failing, initial: opts.Initial, clk: newClock(in.History), mem: drawMem}
	f.explain()
	f.budgetEnd = time.Now().Add(max(2*time.Second, timeout/10))
	if deadline.Before(f.budgetEnd) {
		f.budgetEnd = deadline
	}
	if in.Dir != "" {
		maxDrawn := opts.MaxDrawn
		if maxDrawn <= 0 {
			maxDrawn = 5
		}
		if err := f.draw(in.Dir, in.History, maxDrawn, &det); err != nil {
			res.Summary = fmt.Sprintf("(could not write %s: %v) ", FileName, err)
		} else if len(det.Drawn) > 0 {
			res.Artifacts = append(res.Artifacts, FileName)
			res.Artifacts = append(res.Artifacts, det.Views...)
		}
	}
	f.fallbacks()
	for _, i := range f.sorted() {
		kh, e := failing[i], f.expls[i]
		res.Anomalies = append(res.Anomalies, e.anomaly(kh))
		det.Invalid = append(det.Invalid, e.details(kh))
	}
	det.Elapsed = time.Since(start).Seconds()
	if b, err := json.Marshal(det); err == nil {
		res.Details = b
	}
	summarize(ctx, &res, det, len(failing), timeout, mem)
	return res
}

// summarize sets the verdict and its summary.
func summarize(ctx context.Context, res *harness.Result, det Details, failing int, timeout time.Duration, mem *budget.Watch) {
	switch {
	case failing > 0:
		res.Validity = harness.Invalid
		res.Summary += fmt.Sprintf("%d of %d keys are not linearizable; first: %s", failing, det.Keys, res.Anomalies[0].Explanation)
		if len(det.Undecided) > 0 {
			res.Summary += fmt.Sprintf(" (%d keys undecided)", len(det.Undecided))
		}
	case len(det.Undecided) > 0:
		res.Validity = harness.Unknown
		why := fmt.Sprintf("the search timed out after %s", timeout)
		switch {
		case mem.Exceeded():
			why = mem.Reason()
		case ctx.Err() != nil:
			why = "the check was cancelled (" + ctx.Err().Error() + ")"
		}
		res.Summary = fmt.Sprintf("%s with %d of %d keys undecided (first: %q): unknown, not valid; %d keys linearizable",
			why, len(det.Undecided), det.Keys, det.Undecided[0], det.ValidKeys)
	case det.Keys == 0:
		// Nothing judged is not a pass (an interrupted run, a history of
		// another workload's ops).
		res.Validity = harness.Unknown
		res.Summary = "no read, write or cas ops to check: nothing was judged"
	default:
		res.Validity = harness.Valid
		pruned := ""
		if det.Pruned > 0 {
			pruned = fmt.Sprintf(", %d unobserved info writes pruned", det.Pruned)
		}
		res.Summary = fmt.Sprintf("%d ops on %d keys are linearizable (%.2f s%s)", det.Ops, det.Keys, det.Elapsed, pruned)
	}
}

// failures explains the failing keys: a proof in words where one is found,
// else from porcupine's longest partial linearization.
type failures struct {
	keys      []*keyHist
	expls     []explanation
	initial   *string
	clk       clock
	mem       *budget.Watch
	budgetEnd time.Time
}

func (f *failures) explain() {
	f.expls = make([]explanation, len(f.keys))
	for i, kh := range f.keys {
		f.expls[i] = explainKey(kh, f.initial, f.clk)
	}
}

// sorted is the failing keys' order: first violation first.
func (f *failures) sorted() []int {
	order := make([]int, len(f.keys))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return f.expls[order[a]].time < f.expls[order[b]].time })
	return order
}

// draw writes one porcupine page per failing key (the first maxDrawn by
// time) into dir, each key searched on its own, and linearizability.html
// framing them; it records their partial linearizations in the
// explanations and the pages in det (Drawn, Views), so that reports show
// them without searching again.
func (f *failures) draw(dir string, h harness.History, maxDrawn int, det *Details) error {
	var views []view
	for n, i := range f.sorted() {
		if n >= maxDrawn || !time.Now().Before(f.budgetEnd) {
			break
		}
		kh := f.keys[i]
		cut := int64(never)
		if e := f.expls[i]; e.found {
			cut = e.time
		}
		var info porcupine.LinearizationInfo
		note := ""
		if sr := kh.searched; sr != nil && (cut == never || len(kh.ops) <= maxDrawOps) {
			info = sr.info // the verdict's own search
			f.expls[i].setPartial(kh, sr.partial)
		} else if sub, ok := f.involved(kh, f.expls[i]); ok {
			vres, vinfo, partials, _ := verbose(f.initial, []*keyHist{sub}, nil, time.Until(f.budgetEnd), f.mem)
			if vres != porcupine.Illegal {
				continue // not drawn (listed in Undrawn)
			}
			info, note = vinfo, fmt.Sprintf("the %d operations of the chains of values the violation involves, of %d", len(sub.ops), len(kh.ops))
			f.expls[i].setPartial(sub, partials[0])
		} else {
			vres, vinfo, partials, _ := verbose(f.initial, []*keyHist{kh}, []int64{cut}, time.Until(f.budgetEnd), f.mem)
			if vres == porcupine.Unknown {
				break // out of time or memory: a partial view would mislead
			}
			info = vinfo
			f.expls[i].setPartial(kh, partials[0])
		}
		rel := filepath.Join(viewDir, fmt.Sprintf("key-%d.html", len(views)))
		if err := writeVisualization(filepath.Join(dir, rel), f.initial, info, h); err != nil {
			return err
		}
		views = append(views, view{Key: kh.key, File: rel, Note: note})
	}
	if len(views) > 0 {
		if err := writeIndex(filepath.Join(dir, FileName), views); err != nil {
			return err
		}
	}
	drawn := map[string]bool{}
	for _, v := range views {
		det.Drawn = append(det.Drawn, v.Key)
		det.Views = append(det.Views, v.File)
		drawn[v.Key] = true
	}
	for _, kh := range f.keys {
		if !drawn[kh.key] {
			det.Undrawn = append(det.Undrawn, kh.key)
		}
	}
	return nil
}

// drawBudget bounds the memory of the searches for views and partial
// linearizations: a search that would need more (a busy register's long
// prefix up to its violation) yields no view rather than gigabytes.
const drawBudget = 256 << 20

// involved is, for a failing key too long to draw whose values are unique
// and whose violation was proved, the key restricted to the chains of values
// the proof names.
func (f *failures) involved(kh *keyHist, e explanation) (*keyHist, bool) {
	if len(kh.ops) <= maxDrawOps || !e.found || !chainsApply(kh, f.initial) {
		return nil, false
	}
	ops := chainsInvolved(kh, f.initial, e.named)
	if len(ops) == 0 || len(ops) > maxDrawOps {
		return nil, false
	}
	sub := *kh
	sub.ops = ops
	return &sub, true
}

// fallbacks explains keys with no proof in words from porcupine's partial
// linearization, each searched on its own so that a search cut short is
// known to be (and then claims nothing).
func (f *failures) fallbacks() {
	for i, kh := range f.keys {
		if f.expls[i].found {
			continue
		}
		if sr := kh.searched; sr != nil {
			f.expls[i].fallback(kh, sr.partial, sr.kept, f.initial, f.clk)
			continue
		}
		if !time.Now().Before(f.budgetEnd) {
			continue
		}
		vres, _, partials, kept := verbose(f.initial, []*keyHist{kh}, nil, time.Until(f.budgetEnd), f.mem)
		if vres == porcupine.Illegal {
			f.expls[i].fallback(kh, partials[0], kept[0], f.initial, f.clk)
		}
	}
}

// searchAll prepares (keyHist.build) and checks every key on its own, a few
// at a time, each within what is left of the deadline and the memory
// budget. Checking keys separately (rather than through porcupine's
// partitioned model) tells which keys failed and keeps going past the first
// failure, since a later key may time out while another is invalid.
//
// Keys whose written values are unique are decided by chains instead
// (chains.go), in O(n log n).
func searchAll(ctx context.Context, keys []*keyHist, opts Options, deadline time.Time, mem *budget.Watch) ([]porcupine.CheckResult, int) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]porcupine.CheckResult, len(keys))
	var zoned atomic.Int64
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				keys[i].build(opts)
				keys[i].nRecs, keys[i].nOps = len(keys[i].recs), len(keys[i].ops)
				left := time.Until(deadline)
				if left <= 0 || ctx.Err() != nil || mem.Exceeded() {
					results[i] = porcupine.Unknown // 0 would mean no limit to porcupine
					continue
				}
				results[i] = decide(keys[i], opts.Initial, left, mem, &zoned)
				if results[i] == porcupine.Ok {
					// Only failing keys are explained and drawn: a big
					// history's valid keys need not stay in memory.
					keys[i].recs, keys[i].ops = nil, nil
				}
			}
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()
	return results, int(zoned.Load())
}

// decide judges one key: by chains if its values are unique, else by
// porcupine's search within left and the memory budget.
func decide(kh *keyHist, initial *string, left time.Duration, mem *budget.Watch, zoned *atomic.Int64) porcupine.CheckResult {
	if chainsApply(kh, initial) {
		zoned.Add(1)
		return chainsCheck(kh, initial)
	}
	// One verbose search: a failing key keeps it, so that neither its
	// explanation nor its view searches again.
	res, info, partials, kept := verbose(initial, []*keyHist{kh}, nil, left, mem)
	if res == porcupine.Illegal {
		kh.searched = &searched{info: info, partial: partials[0], kept: kept[0]}
	}
	return res
}

// searched is porcupine's verbose search of a failing key: its
// linearization info (for the view), longest partial linearization and
// the ops searched (indices into kh.ops).
type searched struct {
	info          porcupine.LinearizationInfo
	partial, kept []int
}

// maxDrawOps bounds how many ops of one key are searched verbosely and
// drawn: porcupine's page becomes unusable beyond a few thousand.
const maxDrawOps = 3000

// verbose re-searches the given (failing) keys with porcupine's partial
// linearizations, as one partitioned history, so that the same info draws
// them all. A key with more than maxDrawOps ops is cut to those invoked up to
// a second after its violation (cuts[i], never if unknown): a prefix of a
// history by invocation keeps every op a proof of the violation names. It
// returns, per key, the indices into kh.ops that were searched, and the
// longest partial linearization as indices into kh.ops. A search stopped by
// the memory budget is Unknown.
func verbose(initial *string, keys []*keyHist, cuts []int64, timeout time.Duration, mem *budget.Watch) (porcupine.CheckResult, porcupine.LinearizationInfo, [][]int, [][]int) {
	all, kept := verboseOps(keys, cuts)
	part := func(h []porcupine.Operation) [][]porcupine.Operation {
		out := make([][]porcupine.Operation, len(keys))
		for _, op := range h {
			k := op.Metadata.(*vmeta).key
			out[k] = append(out[k], op)
		}
		return out
	}
	m, aborted := mem.Guard(model(initial, part))
	res, info := porcupine.CheckOperationsVerbose(m, all, timeout)
	partials := make([][]int, len(keys))
	if aborted.Load() {
		return porcupine.Unknown, info, partials, kept
	}
	for p, set := range info.PartialLinearizations() {
		for _, lin := range set {
			if len(lin) > len(partials[p]) {
				partials[p] = lin
			}
		}
		// partition-local ids -> indices into kh.ops
		for j, id := range partials[p] {
			partials[p][j] = kept[p][id]
		}
	}
	return res, info, partials, kept
}

// verboseOps gathers the keys' ops to draw: each key gets its own band of
// rows, one per process, so that keys drawn together do not interleave.
func verboseOps(keys []*keyHist, cuts []int64) ([]porcupine.Operation, [][]int) {
	var all []porcupine.Operation
	type row struct {
		key int
		p   harness.Process
	}
	rows := map[row]int{}
	kept := make([][]int, len(keys))
	n := 0
	for _, kh := range keys {
		n += len(kh.ops)
	}
	vms := make([]vmeta, 0, n) // the ops point into it: it must not grow
	for ki, kh := range keys {
		cut := int64(never)
		if cuts != nil && len(kh.ops) > maxDrawOps && cuts[ki] < never-int64(time.Second) {
			cut = cuts[ki] + int64(time.Second)
		}
		for id, op := range kh.ops {
			if op.Call > cut {
				continue
			}
			kept[ki] = append(kept[ki], id)
			if in := op.Input.(*input); in.kind != kRead && in.next == nil {
				in.next = state{present: true, v: in.to} // boxed once, not per step
			}
			md := op.Metadata.(*meta)
			r := kh.recs[md.rec]
			id, ok := rows[row{ki, r.inv.Process}]
			if !ok {
				id = len(rows)
				rows[row{ki, r.inv.Process}] = id
			}
			op.ClientId = id
			vms = append(vms, vmeta{key: ki, rec: md.rec, src: &kh.recs[md.rec]})
			op.Metadata = &vms[len(vms)-1]
			all = append(all, op)
		}
	}
	return all, kept
}

// vmeta is an op's metadata in a verbose search: its key's position among
// the keys searched together, and its record, whose tooltip is worded only
// if the search is drawn.
type vmeta struct {
	key, rec int
	src      *rec
}

func tooltip(r rec) string {
	s := fmt.Sprintf("op %d, process %s", r.inv.Index, r.inv.Process)
	if r.inv.Node != "" {
		s += ", node " + r.inv.Node
	}
	if r.comp != nil && r.comp.Error != "" {
		s += ", error: " + r.comp.Error
	}
	return s
}

// Porcupine judges h with porcupine alone: every op as recorded (no pruning,
// bounding or chains), one partition per key, within timeout. It is the
// baseline the checker benchmark (internal/checkbench) compares Check with.
func Porcupine(h harness.History, opts Options, timeout time.Duration) porcupine.CheckResult {
	opts.NoPrune = true
	keys, _ := split(h, opts)
	var all []porcupine.Operation
	index := map[string]int{}
	for i, kh := range keys {
		index[kh.key] = i
		all = append(all, kh.ops...)
	}
	byKey := func(ops []porcupine.Operation) [][]porcupine.Operation {
		out := make([][]porcupine.Operation, len(keys))
		for _, op := range ops {
			k := index[op.Input.(*input).key]
			out[k] = append(out[k], op)
		}
		return out
	}
	return porcupine.CheckOperationsTimeout(model(opts.Initial, byKey), all, timeout)
}
