// Package set checks set histories as Jepsen's set-full checker does: it
// follows every element through every read, not only the final one.
//
// Ops: F "add" with Value the element, Key the set; F "read" of Key whose
// ok completion's Value is a JSON array of the elements read (as
// formats/jepsen writes it; an ok read with no Value is the empty set).
// Sets of different keys are judged apart.
//
// For each element (Jepsen's terms):
//   - known: when it was certainly in the set — its add's ok completion, or
//     the completion of the first read that saw it (an add of unknown
//     outcome becomes known only by being read);
//   - last present / last absent: the latest read invocation that saw it,
//     and the latest one that began after it was known and did not;
//   - stable: seen by a read after its last absence: it became visible for
//     good just after that absent read began (its stable time), and the
//     visibility latency is stable time minus known time;
//   - lost: known, and the last read to begin after it was known (or after
//     it was last seen) did not see it: acknowledged and never seen, or seen
//     then gone;
//   - never read: known, but no read began after that.
//
// A stale read is a read that began after an element was known and missed
// it, before it became stable. Stale reads are allowed unless the checker
// is told the store promises linearizable reads (Options.Linearizable).
// Invalid: a lost element, an element read that no add attempted or whose
// add failed (a failed add certainly did not happen), or an element read
// twice by one read.
package set

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Checker is the set checker.
type Checker struct {
	// Linearizable makes stale reads invalid: a store whose reads are
	// linearizable never misses an element that was known before the read
	// began.
	Linearizable bool
}

// New returns a set checker that allows stale reads (Jepsen's default).
func New() Checker { return Checker{} }

func (Checker) Name() string { return "set" }

// Element is one element's fate, for reports. Times are ns since the test
// started; latencies are ns.
type Element struct {
	Key     string `json:"key,omitempty"`
	Element string `json:"element"`
	Outcome string `json:"outcome"` // stable, lost, never-read, unexpected, duplicated
	// Why says more for unexpected elements ("never attempted", "its add
	// failed") and duplicated ones.
	Why string `json:"why,omitempty"`
	// Known is when the element was certainly in the set; Index the op
	// that made it known.
	Known      int64 `json:"known,omitempty"`
	KnownIndex int   `json:"known_index,omitempty"`
	// Stable is when it became visible for good; Latency is Stable-Known
	// (at least 0) for stable elements, and for lost ones the time from
	// known to when it was last seen.
	Stable  int64 `json:"stable,omitempty"`
	Latency int64 `json:"latency,omitempty"`
	// LastPresent and LastAbsent are the indexes of the read invocations
	// (-1: none).
	LastPresent int `json:"last_present"`
	LastAbsent  int `json:"last_absent"`
	// StaleReads counts the reads that began after it was known and
	// missed it while it was not yet stable (stable elements).
	StaleReads int `json:"stale_reads,omitempty"`
}

// Details is what the checker found.
type Details struct {
	Keys         int `json:"keys"`
	Attempted    int `json:"attempted"`
	Acknowledged int `json:"acknowledged"`
	Reads        int `json:"reads"`
	Stable       int `json:"stable"`
	NeverRead    int `json:"never_read"`
	// Recovered counts elements of unknown outcome that a read saw.
	Recovered int `json:"recovered"`
	// Stale counts stable elements that some read missed after they were
	// known.
	Stale int `json:"stale"`
	// Visibility latency quantiles over stable elements, ns: 0, 0.5,
	// 0.95, 0.99, 1.
	Latency map[string]int64 `json:"latency,omitempty"`
	// Lost, Unexpected and Duplicated list every such element; Worst the
	// stable elements of the highest visibility latency (at most 10).
	Lost       []Element `json:"lost,omitempty"`
	Unexpected []Element `json:"unexpected,omitempty"`
	Duplicated []Element `json:"duplicated,omitempty"`
	Worst      []Element `json:"worst,omitempty"`
}

// maxAnomalies bounds the anomalies of each kind shown; Details lists all.
const maxAnomalies = 5

type add struct {
	inv  harness.Op
	comp *harness.Op // nil: never completed
}

type read struct {
	inv, comp harness.Op
	elems     []string
}

type elem struct {
	name        string
	add         *add // nil: never attempted
	known       *harness.Op
	lastPresent *read
	lastAbsent  *read
	firstAbsent *read // the earliest absent read after known
	stale       int   // absent reads after known, before the last present one
}

// ValidateHistory refuses set ops the checker cannot read: an add without
// an element, a read whose value is not a JSON array of elements
// (harness.HistoryValidator: `gauntlet check` exits 64 naming the op).
func (Checker) ValidateHistory(h harness.History) *harness.OpError {
	for i, op := range h {
		if op.IsNemesis() {
			continue
		}
		switch {
		case op.F == harness.FAdd && op.Type == harness.Invoke && op.Value == nil:
			return &harness.OpError{Pos: i, Op: op, Err: errors.New("a set add needs the element in its value")}
		case op.F == harness.FRead && op.Type == harness.OK:
			if _, err := parse(op.Value); err != nil {
				return &harness.OpError{Pos: i, Op: op, Err: err}
			}
		case op.F != harness.FAdd && op.F != harness.FRead:
			return &harness.OpError{Pos: i, Op: op, Err: fmt.Errorf("%q is not an operation of a set (add, read)", op.F)}
		}
	}
	return nil
}

// parse reads a set read's value: a JSON array of strings or numbers.
func parse(v *string) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(*v))
	dec.UseNumber()
	var raw []any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("a set read's value must be a JSON array of elements, got %.80q", *v)
	}
	out := make([]string, len(raw))
	for i, x := range raw {
		switch e := x.(type) {
		case string:
			out[i] = e
		case json.Number:
			out[i] = e.String()
		default:
			b, _ := json.Marshal(x)
			return nil, fmt.Errorf("a set read's elements must be strings or numbers, got %s", b)
		}
	}
	return out, nil
}

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	adds := map[string]map[string]*add{} // key -> element -> its add
	reads := map[string][]*read{}
	var keys []string
	seen := map[string]bool{}
	for _, p := range in.History.Pairs() {
		k := p.Invoke.Key
		switch p.Invoke.F {
		case harness.FAdd:
			if p.Invoke.Value == nil {
				res.Validity = harness.Unknown
				res.Summary = fmt.Sprintf("op %d (%s) adds no element, so the history cannot be judged", p.Invoke.Index, p.Invoke)
				return res
			}
			if adds[k] == nil {
				adds[k] = map[string]*add{}
			}
			// Adds of one element twice: the most certain one counts (ok,
			// then unknown, then failed), the earliest among equals.
			a := adds[k][*p.Invoke.Value]
			if a == nil || rank(p.Completion) > rank(a.comp) {
				adds[k][*p.Invoke.Value] = &add{inv: p.Invoke, comp: p.Completion}
			}
		case harness.FRead:
			if p.Completion == nil || p.Completion.Type != harness.OK {
				continue
			}
			es, err := parse(p.Completion.Value)
			if err != nil {
				res.Validity = harness.Unknown
				res.Summary = fmt.Sprintf("op %d (%s): %v, so the history cannot be judged", p.Completion.Index, p.Completion, err)
				res.Anomalies = []harness.Anomaly{{Checker: c.Name(), Key: k, Time: p.Completion.Time, Ops: []harness.Op{p.Invoke, *p.Completion},
					Explanation: fmt.Sprintf("the read by process %s at %.2f s (op %d) returned something that is not a set: %v", p.Completion.Process, secs(p.Completion.Time), p.Completion.Index, err)}}
				return res
			}
			reads[k] = append(reads[k], &read{inv: p.Invoke, comp: *p.Completion, elems: es})
		default:
			continue
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	d := Details{Keys: len(keys)}
	var stables []Element
	var anomalies []harness.Anomaly
	var staleA []harness.Anomaly
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			res.Validity = harness.Unknown
			res.Summary = "the check was cut off: " + err.Error()
			return res
		}
		// On a prefix an element the last reads missed may still be read
		// later, unless reads are linearizable (then missing it was
		// already a violation): it is not called lost yet.
		r := checkKey(k, adds[k], reads[k], &d, in.Prefix && !c.Linearizable)
		stables = append(stables, r.stable...)
		anomalies = append(anomalies, r.anomalies...)
		staleA = append(staleA, r.stale...)
	}
	sortElems(d.Lost)
	sortElems(d.Unexpected)
	sortElems(d.Duplicated)
	d.Stable = len(stables)
	var lat []int64
	for _, e := range stables {
		lat = append(lat, e.Latency)
		if e.StaleReads > 0 {
			d.Stale++
		}
	}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		d.Latency = map[string]int64{}
		for _, q := range []float64{0, 0.5, 0.95, 0.99, 1} {
			d.Latency[strconv.FormatFloat(q, 'f', -1, 64)] = lat[min(len(lat)-1, int(q*float64(len(lat))))]
		}
	}
	sort.SliceStable(stables, func(i, j int) bool { return stables[i].Latency > stables[j].Latency })
	for _, e := range stables[:min(10, len(stables))] {
		if e.Latency > 0 {
			d.Worst = append(d.Worst, e)
		}
	}
	res.Details, _ = json.Marshal(d)

	lostN, unexpN, dupN := len(d.Lost), len(d.Unexpected), len(d.Duplicated)
	staleBad := c.Linearizable && d.Stale > 0
	if staleBad {
		anomalies = append(anomalies, staleA...)
	}
	res.Anomalies = anomalies
	var parts []string
	if lostN > 0 {
		parts = append(parts, fmt.Sprintf("%d elements lost (%s)", lostN, head(d.Lost)))
	}
	if unexpN > 0 {
		parts = append(parts, fmt.Sprintf("%d elements read that no add put there (%s)", unexpN, head(d.Unexpected)))
	}
	if dupN > 0 {
		parts = append(parts, fmt.Sprintf("%d elements read twice by one read (%s)", dupN, head(d.Duplicated)))
	}
	if staleBad {
		parts = append(parts, fmt.Sprintf("%d elements missing from reads that began after they were known, though reads are to be linearizable", d.Stale))
	}
	worst := ""
	if len(d.Worst) > 0 {
		w := d.Worst[0]
		worst = fmt.Sprintf("; worst visibility latency %s (element %s%s)", ms(w.Latency), w.Element, ofKey(w.Key))
	}
	switch {
	case len(parts) > 0:
		res.Validity = harness.Invalid
		res.Summary = strings.Join(parts, "; ")
	case d.Stable == 0 && len(d.Lost) == 0:
		res.Validity = harness.Unknown
		if d.Reads == 0 {
			res.Summary = "no successful read of a set, so nothing can be judged"
		} else {
			res.Summary = fmt.Sprintf("no element was both known and read afterwards (%d reads, %d never read), so nothing can be judged", d.Reads, d.NeverRead)
		}
	default:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("all %d known elements stayed visible (%d acknowledged adds of %d attempted; %d of unknown outcome appeared; %d never read; %d missing from some read after they were known)%s",
			d.Stable, d.Acknowledged, d.Attempted, d.Recovered, d.NeverRead, d.Stale, worst)
	}
	return res
}

type keyResult struct {
	stable    []Element
	anomalies []harness.Anomaly
	stale     []harness.Anomaly
}

// checkKey follows every element of set k through its reads.
func checkKey(k string, adds map[string]*add, reads []*read, d *Details, provisional bool) keyResult {
	var out keyResult
	d.Reads += len(reads)
	d.Attempted += len(adds)
	elems := map[string]*elem{}
	get := func(name string) *elem {
		e := elems[name]
		if e == nil {
			e = &elem{name: name, add: adds[name]}
			elems[name] = e
		}
		return e
	}
	for name, a := range adds {
		e := get(name)
		if a.comp != nil && a.comp.Type == harness.OK {
			d.Acknowledged++
			c := *a.comp
			e.known = &c
		}
	}
	// Reads in completion order: the first read to see an element makes
	// it known, and explanations name the earliest read of a kind.
	sort.Slice(reads, func(i, j int) bool { return reads[i].comp.Index < reads[j].comp.Index })
	var dupAnoms, unexpAnoms []harness.Anomaly
	dupSeen := map[string]bool{}
	for _, r := range reads {
		in := make(map[string]bool, len(r.elems))
		for _, name := range r.elems {
			if in[name] {
				if !dupSeen[name] {
					dupSeen[name] = true
					d.Duplicated = append(d.Duplicated, Element{Key: k, Element: name, Outcome: "duplicated", Why: fmt.Sprintf("read op %d", r.comp.Index), LastPresent: -1, LastAbsent: -1})
					if len(dupAnoms) < maxAnomalies {
						dupAnoms = append(dupAnoms, harness.Anomaly{Checker: "set", Key: k, Time: r.comp.Time, Ops: []harness.Op{r.inv, r.comp},
							Explanation: fmt.Sprintf("the read%s by %s returned element %s twice", ofKey(k), who(r.comp), name)})
					}
				}
				continue
			}
			in[name] = true
			e := get(name)
			if e.known == nil || r.comp.Index < e.known.Index {
				c := r.comp
				e.known = &c
			}
			if e.lastPresent == nil || e.lastPresent.inv.Index < r.inv.Index {
				e.lastPresent = r
			}
		}
		for _, e := range elems {
			if in[e.name] || e.known == nil || e.known.Index >= r.inv.Index {
				continue
			}
			if e.lastAbsent == nil || e.lastAbsent.inv.Index < r.inv.Index {
				e.lastAbsent = r
			}
			if e.firstAbsent == nil || r.inv.Index < e.firstAbsent.inv.Index {
				e.firstAbsent = r
			}
		}
	}
	// An absent read counts as stale only if a later read saw the element.
	for _, r := range reads {
		in := make(map[string]bool, len(r.elems))
		for _, name := range r.elems {
			in[name] = true
		}
		for _, e := range elems {
			if !in[e.name] && e.known != nil && e.known.Index < r.inv.Index && e.lastPresent != nil && r.inv.Index < e.lastPresent.inv.Index {
				e.stale++
			}
		}
	}
	names := make([]string, 0, len(elems))
	for n := range elems {
		names = append(names, n)
	}
	sortNames(names)
	for _, n := range names {
		e := elems[n]
		el := Element{Key: k, Element: n, LastPresent: -1, LastAbsent: -1}
		if e.known != nil {
			el.Known, el.KnownIndex = e.known.Time, e.known.Index
		}
		if e.lastPresent != nil {
			el.LastPresent = e.lastPresent.inv.Index
		}
		if e.lastAbsent != nil {
			el.LastAbsent = e.lastAbsent.inv.Index
		}
		if e.add == nil || (e.add.comp != nil && e.add.comp.Type == harness.Fail) {
			if e.lastPresent == nil {
				continue // a failed add nobody read: it did not happen
			}
			el.Outcome = "unexpected"
			first := firstPresent(e, reads)
			ops := []harness.Op{first.inv, first.comp}
			if e.add == nil {
				el.Why = "no add attempted it"
				if len(unexpAnoms) < maxAnomalies {
					unexpAnoms = append(unexpAnoms, harness.Anomaly{Checker: "set", Key: k, Time: first.comp.Time, Ops: ops,
						Explanation: fmt.Sprintf("the read%s by %s returned element %s, which no add ever attempted", ofKey(k), who(first.comp), n)})
				}
			} else {
				el.Why = fmt.Sprintf("its add (op %d) failed", e.add.comp.Index)
				if len(unexpAnoms) < maxAnomalies {
					unexpAnoms = append(unexpAnoms, harness.Anomaly{Checker: "set", Key: k, Time: first.comp.Time, Ops: append([]harness.Op{e.add.inv, *e.add.comp}, ops...),
						Explanation: fmt.Sprintf("the add of %s%s by process %s failed at %.2f s (op %d), so it certainly did not happen, yet the read by %s returned it",
							n, ofKey(k), e.add.comp.Process, secs(e.add.comp.Time), e.add.comp.Index, who(first.comp))})
				}
			}
			d.Unexpected = append(d.Unexpected, el)
			continue
		}
		if e.add.comp == nil || e.add.comp.Type == harness.Info {
			if e.lastPresent != nil {
				d.Recovered++
			}
		}
		if e.known == nil {
			continue // unknown outcome, never read: nothing to say
		}
		stable := e.lastPresent != nil && (e.lastAbsent == nil || e.lastAbsent.inv.Index < e.lastPresent.inv.Index)
		lost := !provisional && e.lastAbsent != nil && (e.lastPresent == nil || e.lastPresent.inv.Index < e.lastAbsent.inv.Index)
		switch {
		case stable:
			el.Outcome = "stable"
			el.Stable = e.known.Time
			if e.lastAbsent != nil {
				el.Stable = e.lastAbsent.inv.Time + 1
			}
			el.Latency = max(0, el.Stable-e.known.Time)
			el.StaleReads = e.stale
			out.stable = append(out.stable, el)
			if e.stale > 0 && e.firstAbsent != nil && len(out.stale) < maxAnomalies {
				fa := e.firstAbsent
				out.stale = append(out.stale, harness.Anomaly{Checker: "set", Key: k, Time: fa.comp.Time, Ops: []harness.Op{*e.known, fa.inv, fa.comp},
					Explanation: fmt.Sprintf("element %s%s was known at %.2f s (op %d), but the read by %s began after that and missed it; it was visible for good only from %.2f s (%s later, %d stale reads)",
						n, ofKey(k), secs(e.known.Time), e.known.Index, who(fa.comp), secs(el.Stable), ms(el.Latency), e.stale)})
			}
		case lost:
			el.Outcome = "lost"
			la := e.lastAbsent
			ops := []harness.Op{*e.known}
			var text string
			if e.lastPresent == nil {
				text = fmt.Sprintf("element %s%s was known at %.2f s (%s), but no read that began after that saw it; the last, by %s, did not",
					n, ofKey(k), secs(e.known.Time), knownBy(e), who(la.comp))
			} else {
				lp := e.lastPresent
				el.Latency = max(0, lp.inv.Time+1-e.known.Time)
				ops = append(ops, lp.inv, lp.comp)
				text = fmt.Sprintf("element %s%s was known at %.2f s (%s) and the read by %s saw it, but the later read by %s did not: it was lost",
					n, ofKey(k), secs(e.known.Time), knownBy(e), who(lp.comp), who(la.comp))
			}
			ops = append(ops, la.inv, la.comp)
			d.Lost = append(d.Lost, el)
			if len(out.anomalies) < maxAnomalies {
				out.anomalies = append(out.anomalies, harness.Anomaly{Checker: "set", Key: k, Time: la.comp.Time, Ops: ops, Explanation: text})
			}
		default:
			d.NeverRead++
		}
	}
	out.anomalies = append(append(out.anomalies, unexpAnoms...), dupAnoms...)
	return out
}

// rank orders an add's outcomes by how certainly it happened.
func rank(c *harness.Op) int {
	switch {
	case c == nil || c.Type == harness.Info:
		return 1
	case c.Type == harness.OK:
		return 2
	}
	return 0
}

// firstPresent is the read that first completed with e in it.
func firstPresent(e *elem, reads []*read) *read {
	for _, r := range reads { // in completion order
		for _, n := range r.elems {
			if n == e.name {
				return r
			}
		}
	}
	return e.lastPresent
}

func knownBy(e *elem) string {
	if e.add != nil && e.add.comp != nil && e.add.comp.Index == e.known.Index {
		return fmt.Sprintf("its add by process %s was acknowledged, op %d", e.known.Process, e.known.Index)
	}
	return fmt.Sprintf("first read by process %s, op %d", e.known.Process, e.known.Index)
}

// who names a read's completion: "process 3 at 4.20 s (op 812, on n2)".
func who(op harness.Op) string {
	s := fmt.Sprintf("process %s at %.2f s (op %d", op.Process, secs(op.Time), op.Index)
	if op.Node != "" {
		s += ", on " + op.Node
	}
	return s + ")"
}

func ofKey(k string) string {
	if k == "" {
		return ""
	}
	return " of set " + k
}

// sortNames orders elements numerically where both are integers, else as
// strings, so that output is deterministic and reads naturally.
func sortNames(xs []string) {
	sort.Slice(xs, func(i, j int) bool { return less(xs[i], xs[j]) })
}

func less(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return x < y
	case errA == nil:
		return true
	case errB == nil:
		return false
	}
	return a < b
}

func sortElems(es []Element) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Key != es[j].Key {
			return es[i].Key < es[j].Key
		}
		return less(es[i].Element, es[j].Element)
	})
}

func head(es []Element) string {
	var b bytes.Buffer
	for i, e := range es {
		if i == 5 {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.Element)
		if e.Key != "" {
			b.WriteString(" in " + e.Key)
		}
	}
	return b.String()
}

func secs(ns int64) float64 { return float64(ns) / 1e9 }

func ms(ns int64) string { return fmt.Sprintf("%.0f ms", float64(ns)/1e6) }
