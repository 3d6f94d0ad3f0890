package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// An anomaly is shown as the ops its explanation names, then a compact
// window of the ops around them: one row per operation (its invocation and
// completion together), each fault period once as a row where it starts
// (or at the top, when it was already under way) and a row where it heals,
// with a band of its colour beside the ops it overlapped. Jepsen's and
// porcupine's views show the same: the few ops that matter and the fault
// once.

// maxWindowRows is how many op rows of a window are shown before it is
// expanded: the rows nearest the named ops; the rest fold into gap rows.
const maxWindowRows = 24

// opLine is one operation: an invocation and its completion on one row.
type opLine struct {
	Index     int // the invocation's history index (the completion's, if the window lacks the invocation)
	Process   string
	F         string
	Key       string
	Value     string
	Outcome   string // ok, fail, info, or "pending" (no completion)
	Invoked   string // "" when the window holds only the completion
	Completed string // "" when it holds only the invocation
	Node      string
	Error     string
	Named     bool   // one of the ops the explanation names
	Band      string // colour of a fault under way when the op was invoked ("" if none)
	Fault     string // that fault in a word (its full text is on its fault row, once)
	Fold      bool   // hidden until the window is expanded
	at        int64
}

// windowRow is a row of the compact window: an op, a fault mark, or (when
// collapsed) a gap standing for Gap folded ops.
type windowRow struct {
	Op    *opLine
	Fault *faultMark
	Gap   int
}

// faultMark is a fault period's start (or its being under way when the
// window begins) or its heal.
type faultMark struct {
	Color string
	Time  string
	What  string // "starts", "healed", …
	Text  string
	Heal  bool
}

// opLines pairs the invocations and completions of ops (a checker's
// window or named ops) into one line per operation, in invocation order. A
// completion whose invocation is not among ops gets a line of its own.
func opLines(ops []harness.Op, named map[int]bool, faults []fault) []opLine {
	var lines []opLine
	open := map[harness.Process]int{}
	for _, o := range ops {
		if o.IsNemesis() {
			continue
		}
		if o.Type == harness.Invoke {
			open[o.Process] = len(lines)
			l := opLine{Index: o.Index, Process: o.Process.String(), F: o.F, Key: o.Key, Value: opValue(o),
				Outcome: "pending", Invoked: secs(o.Time), Node: o.Node, Named: named[o.Index], at: o.Time}
			lines = append(lines, l)
			continue
		}
		i, ok := open[o.Process]
		if !ok {
			lines = append(lines, opLine{Index: o.Index, Process: o.Process.String(), F: o.F, Key: o.Key, Node: o.Node, at: o.Time})
			i = len(lines) - 1
		}
		delete(open, o.Process)
		l := &lines[i]
		l.Outcome, l.Completed, l.Error = string(o.Type), secs(o.Time), o.Error
		l.Named = l.Named || named[o.Index]
		// A read's (or a transaction's) value is what it returned; a
		// write's or a cas's is what it asked for.
		if v := opValue(o); v != "" && (o.F == harness.FRead || o.F == harness.FTxn || l.Value == "") {
			l.Value = v
		}
	}
	for i := range lines {
		l := &lines[i]
		for _, f := range faults {
			if l.at >= f.Start && l.at <= f.End {
				l.Band, l.Fault = faultColor(f.Pkg), f.Short()
				break
			}
		}
	}
	return lines
}

// opValue is an op's value as a cell shows it: "from → to" for a cas, the
// micro-ops as Jepsen writes them for a transaction.
func opValue(o harness.Op) string {
	switch {
	case len(o.Txn) > 0:
		b, err := json.Marshal(o.Txn)
		if err != nil {
			return fmt.Sprint(o.Txn)
		}
		return string(b)
	case o.From != nil:
		return *o.From + " → " + deref(o.Value)
	case o.Value != nil:
		return *o.Value
	case o.F == harness.FRead && o.Type == harness.OK:
		return "nil"
	}
	return ""
}

// compactWindow lays out an anomaly's window: its op lines in time order
// with each overlapping fault period once, as a start row (or an "under
// way" row at the top) and a heal row. Beyond maxWindowRows op lines, those
// farthest from the named ops fold; gap rows say how many. It returns the
// rows and the number of folded op lines.
func compactWindow(lines []opLine, faults []fault) ([]windowRow, int) {
	if len(lines) == 0 {
		return nil, 0
	}
	folded := foldFar(lines, maxWindowRows)
	t0, t1 := lines[0].at, lines[0].at
	for _, l := range lines {
		t0, t1 = min(t0, l.at), max(t1, l.at)
	}
	type mark struct {
		at int64
		m  faultMark
	}
	var marks []mark
	for _, f := range faults {
		if f.End < t0 || f.Start > t1 {
			continue
		}
		color := faultColor(f.Pkg)
		text := f.Label() + nodesSuffix(f.Nodes)
		if f.Start < t0 {
			marks = append(marks, mark{t0 - 1, faultMark{Color: color, Time: secs(f.Start), What: "started before the window", Text: text}})
		} else {
			marks = append(marks, mark{f.Start, faultMark{Color: color, Time: secs(f.Start), What: "starts", Text: text}})
		}
		switch {
		case f.Open && f.End <= t1:
			marks = append(marks, mark{f.End, faultMark{Color: color, Time: secs(f.End), What: "never healed in the history", Text: f.Short(), Heal: true}})
		case f.End <= t1:
			marks = append(marks, mark{f.End, faultMark{Color: color, Time: secs(f.End), What: "healed", Text: f.Short(), Heal: true}})
		}
	}
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].at < marks[j].at })
	var rows []windowRow
	gap := 0
	flush := func() {
		if gap > 0 {
			rows = append(rows, windowRow{Gap: gap})
			gap = 0
		}
	}
	mi := 0
	for i := range lines {
		for mi < len(marks) && marks[mi].at <= lines[i].at {
			flush()
			rows = append(rows, windowRow{Fault: &marks[mi].m})
			mi++
		}
		if lines[i].Fold {
			gap++
		} else {
			flush()
		}
		rows = append(rows, windowRow{Op: &lines[i]})
	}
	flush()
	for ; mi < len(marks); mi++ {
		rows = append(rows, windowRow{Fault: &marks[mi].m})
	}
	return rows, folded
}

// foldFar marks all but the keep lines nearest (in rows) to a named line
// as folded, and returns how many it folded. Without named lines, the
// last ones (nearest the violation) stay.
func foldFar(lines []opLine, keep int) int {
	if len(lines) <= keep {
		return 0
	}
	var named []int
	for i, l := range lines {
		if l.Named {
			named = append(named, i)
		}
	}
	if len(named) == 0 {
		named = []int{len(lines) - 1}
	}
	dist := make([]int, len(lines))
	order := make([]int, len(lines))
	for i := range lines {
		order[i] = i
		dist[i] = len(lines)
		for _, n := range named {
			dist[i] = min(dist[i], max(i-n, n-i))
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return dist[order[a]] < dist[order[b]] })
	kept := max(keep, len(named))
	for _, i := range order[kept:] {
		lines[i].Fold = true
	}
	return len(lines) - kept
}

// Short names a fault period in a word: its package, or for the feedback
// schedule the package it chose, which its description begins with.
func (f fault) Short() string {
	if f.Pkg != "feedback" || f.Desc == "" {
		return f.Pkg
	}
	word, _, _ := strings.Cut(f.Desc, " ")
	return strings.TrimSuffix(word, ":")
}
