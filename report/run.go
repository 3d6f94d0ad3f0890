package report

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// run is everything a run directory holds, as far as it could be read. A
// crashed run may lack results.json or digests.json; the report then says so
// instead of failing.
type run struct {
	dir      string
	test     harness.Test
	res      *harness.Results // nil: no results.json
	hist     harness.History
	digests  []harness.Digest
	missing  []string // files that were absent
	rawFiles []string // files worth linking, relative to dir
}

// loadRun reads a run directory (harness.ReadRun, the run folder's one
// reader) and finds the artifacts worth linking.
func loadRun(dir string) (*run, error) {
	f, err := harness.ReadRun(dir)
	if err != nil {
		return nil, err
	}
	r := &run{dir: dir, test: f.Test, res: f.Results, hist: f.History, digests: f.Digests,
		missing: f.Missing, rawFiles: f.Files}
	if r.res != nil {
		for _, c := range r.res.Checkers {
			for _, a := range c.Artifacts {
				if rel := relInside(dir, a); rel != "" {
					r.rawFiles = append(r.rawFiles, rel)
				}
			}
		}
	}
	return r, nil
}

// relInside returns p relative to dir when it names a file inside dir, else "".
func relInside(dir, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

// outcome of a client op as the report draws it. Pending means the history
// ended before the op completed: unknown, like info.
const (
	outOK      = "ok"
	outFail    = "fail"
	outInfo    = "info"
	outPending = "pending"
)

// op is one client operation: an invocation joined with its completion.
type op struct {
	Index    int // index of the invocation in the history
	EndIndex int // index of the completion; -1 when pending
	Process  harness.Process
	F        string
	Key      string
	Value    *string // from the completion when it has one (reads)
	From     *string
	Start    int64
	End      int64 // completion time; the end of the history when pending
	Outcome  string
	Node     string
	Error    string
}

// Latency is the op's duration; only meaningful for ok and fail.
func (o op) Latency() int64 { return o.End - o.Start }

// ops joins invocations with completions; tmax is the last time in the history.
func ops(h harness.History) (out []op, tmax int64) {
	for _, o := range h {
		if o.Time > tmax {
			tmax = o.Time
		}
	}
	pairs := h.Pairs()
	out = make([]op, 0, len(pairs))
	for _, p := range pairs {
		o := op{Index: p.Invoke.Index, EndIndex: -1, Process: p.Invoke.Process, F: p.Invoke.F,
			Key: p.Invoke.Key, Value: p.Invoke.Value, From: p.Invoke.From, Start: p.Invoke.Time,
			End: tmax, Outcome: outPending, Node: p.Invoke.Node}
		if len(p.Invoke.Txn) > 0 {
			o.Value = harness.Str(opValue(p.Invoke)) // its micro-ops
		}
		if c := p.Completion; c != nil {
			o.EndIndex = c.Index
			o.End = c.Time
			o.Outcome = string(c.Type)
			o.Error = c.Error
			if c.Node != "" {
				o.Node = c.Node
			}
			if c.Value != nil || c.F == harness.FRead {
				o.Value = c.Value
			}
			if len(c.Txn) > 0 {
				o.Value = harness.Str(opValue(*c)) // with what its reads returned
			}
			if c.Key != "" {
				o.Key = c.Key
			}
		}
		out = append(out, o)
	}
	return out, tmax
}

// describe renders an op in words: "read k3 → 7", "write k3 ← 9", "cas k3 3→4".
func (o op) describe() string {
	s := o.F
	if o.Key != "" {
		s += " " + o.Key
	}
	switch {
	case o.From != nil:
		s += " " + *o.From + "→" + deref(o.Value)
	case o.F == harness.FRead:
		if o.Outcome == outOK {
			s += " → " + deref(o.Value)
		}
	case o.Value != nil:
		s += " ← " + *o.Value
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return "nil"
	}
	return *s
}

// countRow is one line of the counts table.
type countRow struct {
	F                            string
	OK, Fail, Info, Pending, All int
}

func counts(all []op) []countRow {
	m := map[string]*countRow{}
	for _, o := range all {
		r := m[o.F]
		if r == nil {
			r = &countRow{F: o.F}
			m[o.F] = r
		}
		switch o.Outcome {
		case outOK:
			r.OK++
		case outFail:
			r.Fail++
		case outInfo:
			r.Info++
		default:
			r.Pending++
		}
		r.All++
	}
	out := make([]countRow, 0, len(m)+1)
	total := countRow{F: "all"}
	for _, r := range m {
		out = append(out, *r)
		total.OK += r.OK
		total.Fail += r.Fail
		total.Info += r.Info
		total.Pending += r.Pending
		total.All += r.All
	}
	sort.Slice(out, func(i, j int) bool { return out[i].F < out[j].F })
	return append(out, total)
}

// secs renders test time (ns) as seconds: "12.31 s".
func secs(ns int64) string { return fmt.Sprintf("%.2f s", float64(ns)/1e9) }
