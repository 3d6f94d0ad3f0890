package report

import (
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// fault is one period during which a fault package was active.
type fault struct {
	Pkg   string `json:"pkg"`
	Desc  string `json:"desc"`
	Nodes string `json:"nodes"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	// Open: the history has no stop for it (ended mid-fault).
	Open bool `json:"open"`
}

// Label is what plots print on the shaded period.
func (f fault) Label() string {
	if f.Desc == "" {
		return f.Pkg
	}
	if strings.HasPrefix(f.Desc, f.Pkg) {
		return f.Desc
	}
	return f.Pkg + ": " + f.Desc
}

// faultPeriods pairs each fault start with the following stop of its
// package (harness.Op.FaultMark reads old and Jepsen histories too). A
// runner may record a fault as an invocation and a completion; the period
// runs from the first start to the last stop of a burst. A stop of every
// package (Jepsen's heal) ends every open period.
func faultPeriods(h harness.History, tmax int64) []fault {
	type state struct {
		cur     *fault
		stopped bool
	}
	states := map[string]*state{}
	var all []*fault
	for _, o := range h {
		m, ok := o.FaultMark()
		if !ok {
			continue
		}
		switch {
		case !m.Stop:
			s := states[m.Package]
			if s == nil {
				s = &state{}
				states[m.Package] = s
			}
			if s.cur == nil || s.stopped {
				s.cur = &fault{Pkg: m.Package, Start: o.Time}
				s.stopped = false
				all = append(all, s.cur)
			}
			// A completion usually knows more (the targets chosen) than the invocation.
			if o.Value != nil && *o.Value != "" {
				s.cur.Desc = *o.Value
			}
			if o.Node != "" {
				s.cur.Nodes = o.Node
			}
			if o.Type == harness.Fail {
				// The runner keeps a fault that failed to start as active (it
				// may be half made) and heals it; say so on the period.
				s.cur.Desc = strings.TrimSpace(s.cur.Desc + " (failed to start: " + o.Error + ")")
			}
		case m.Package != "":
			if s := states[m.Package]; s != nil && s.cur != nil {
				s.cur.End = o.Time
				s.stopped = true
			}
		default:
			for _, s := range states {
				if s.cur != nil && !s.stopped {
					s.cur.End = o.Time
					s.stopped = true
				}
			}
		}
	}
	for _, s := range states {
		if s.cur != nil && !s.stopped {
			s.cur.End, s.cur.Open = max(tmax, s.cur.Start), true
		}
	}
	out := make([]fault, 0, len(all))
	for _, f := range all {
		out = append(out, *f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

// faultPkgs lists the packages seen, in order of first appearance, so every
// package gets its own lane and colour.
func faultPkgs(fs []fault) []string {
	var pkgs []string
	seen := map[string]bool{}
	for _, f := range fs {
		if !seen[f.Pkg] {
			seen[f.Pkg] = true
			pkgs = append(pkgs, f.Pkg)
		}
	}
	return pkgs
}

// faultColor is a fixed colour per known package, so that a partition looks
// the same in every report.
func faultColor(pkg string) string {
	switch pkg {
	case "partition":
		return "#f4a261"
	case "kill":
		return "#e76f51"
	case "pause", "pause-leader":
		return "#9d4edd"
	case "clock":
		return "#4895ef"
	case "loss", "latency", "netem":
		return "#2a9d8f"
	}
	palette := []string{"#e9c46a", "#8ecae6", "#b5838d", "#90be6d"}
	n := 0
	for _, c := range pkg {
		n += int(c)
	}
	return palette[n%len(palette)]
}
