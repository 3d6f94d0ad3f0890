package report

import (
	"errors"
	"fmt"
	"io/fs"
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

// loadRun reads a run directory. Only a missing directory, a malformed file
// or a history that cannot be read is an error.
func loadRun(dir string) (*run, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("open run %s: not a directory", dir)
	}
	r := &run{dir: dir}

	var res harness.Results
	switch err := harness.ReadJSON(filepath.Join(dir, harness.ResultsFile), &res); {
	case err == nil:
		r.res = &res
		r.test = res.Test
	case errors.Is(err, fs.ErrNotExist):
		r.missing = append(r.missing, harness.ResultsFile)
	default:
		return nil, err
	}
	var cfg harness.Test
	switch err := harness.ReadJSON(filepath.Join(dir, harness.ConfigFile), &cfg); {
	case err == nil:
		if r.res == nil || r.test.Name == "" {
			r.test = cfg
		}
	case errors.Is(err, fs.ErrNotExist):
		r.missing = append(r.missing, harness.ConfigFile)
	default:
		return nil, err
	}

	h, err := harness.ReadHistory(filepath.Join(dir, harness.HistoryFile))
	switch {
	case err == nil:
		r.hist = h
	case errors.Is(err, fs.ErrNotExist):
		r.missing = append(r.missing, harness.HistoryFile)
	default:
		return nil, fmt.Errorf("read history: %w", err)
	}

	switch err := harness.ReadJSON(filepath.Join(dir, harness.DigestsFile), &r.digests); {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if r.res != nil {
			r.digests = r.res.Digests
		}
	default:
		return nil, err
	}

	for _, name := range []string{harness.ConfigFile, harness.HistoryFile, harness.ResultsFile, harness.DigestsFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			r.rawFiles = append(r.rawFiles, name)
		}
	}
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
