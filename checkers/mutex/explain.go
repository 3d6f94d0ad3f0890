package mutex

import (
	"fmt"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// secs renders a history time as seconds since the test began.
func secs(ns int64) string { return fmt.Sprintf("%.2f s", float64(ns)/1e9) }

func lockName(key string) string {
	if key == "" {
		return "the lock"
	}
	return key
}

// span says how far a hold went: "acquired ok at 11.02 s (op 700), its
// release began at 12.90 s (op 830)".
func span(h Hold) string {
	s := fmt.Sprintf("acquired ok at %s (op %d%s", secs(h.Start), h.StartIndex, via(h.Node))
	if h.HasToken {
		s += fmt.Sprintf(", token %d", h.Token)
	}
	s += ")"
	switch h.EndKind {
	case EndRelease:
		s += fmt.Sprintf(", its release began at %s (op %d)", secs(h.End), h.EndIndex)
	case EndLost:
		s += fmt.Sprintf(", its guarded work last ended ok at %s (op %d) before it found the lock lost (op %d)", secs(h.End), h.lastIndex, h.EndIndex)
	case EndAgain:
		s += fmt.Sprintf(", until it acquired it again at %s (op %d)", secs(h.End), h.EndIndex)
	default:
		s += ", and it never began a release before the history ended"
	}
	return s
}

func holdOps(hs ...Hold) []harness.Op {
	var out []harness.Op
	for _, h := range hs {
		for _, i := range h.ops {
			out = append(out, harness.Op{Index: i})
		}
	}
	return out
}

// overlap: later began while earlier was still held.
func overlap(earlier, later Hold, fl faultLog) harness.Anomaly {
	text := fmt.Sprintf("process %s acquired %s at %s (op %d%s) while process %s still held it since %s (%s)",
		later.Process, lockName(later.Key), secs(later.Start), later.StartIndex, via(later.Node),
		earlier.Process, secs(earlier.Start), span(earlier))
	if earlier.HasToken && later.HasToken {
		text += fmt.Sprintf("; tokens %d and %d", earlier.Token, later.Token)
	}
	text += fl.at(later.Start)
	return harness.Anomaly{Checker: Name, Key: earlier.Key, Time: later.Start, Explanation: text, Ops: holdOps(earlier, later)}
}

// again: the holder acquired the lock it held.
func again(h Hold, inv, comp harness.Op) harness.Anomaly {
	return harness.Anomaly{Checker: Name, Key: h.Key, Time: comp.Time, Ops: []harness.Op{inv, comp},
		Explanation: fmt.Sprintf("process %s acquired %s again at %s (op %d) while it still held it since %s (op %d): a lock is granted only when free",
			h.Process, lockName(h.Key), secs(comp.Time), comp.Index, secs(h.Start), h.StartIndex)}
}

// unheld: an ok release or guarded op of a process that held nothing.
func unheld(inv, comp harness.Op, did string) harness.Anomaly {
	return harness.Anomaly{Checker: Name, Key: inv.Key, Time: comp.Time, Ops: []harness.Op{inv, comp},
		Explanation: fmt.Sprintf("process %s %s %s at %s (op %d) but never held it: no acquire of its own could have granted it",
			inv.Process, did, lockName(inv.Key), secs(comp.Time), comp.Index)}
}

func sameToken(a, b Hold) harness.Anomaly {
	return harness.Anomaly{Checker: Name, Key: a.Key, Time: b.Start, Ops: holdOps(a, b),
		Explanation: fmt.Sprintf("fencing: process %s's acquire of %s at %s (op %d) got token %d, the token process %s got at %s (op %d): a resource cannot tell the two holders apart",
			b.Process, lockName(b.Key), secs(b.Start), b.StartIndex, b.Token, a.Process, secs(a.Start), a.StartIndex)}
}

func staleToken(earlier, later Hold) harness.Anomaly {
	return harness.Anomaly{Checker: Name, Key: later.Key, Time: later.Start, Ops: holdOps(earlier, later),
		Explanation: fmt.Sprintf("fencing: process %s's acquire of %s, invoked at %s after process %s's had completed at %s (op %d, token %d), got the smaller token %d (op %d): a resource that had seen %d would refuse the newer holder",
			later.Process, lockName(later.Key), secs(later.Invoke), earlier.Process, secs(earlier.Start), earlier.StartIndex, earlier.Token, later.Token, later.StartIndex, earlier.Token)}
}

// faultLog says which faults were under way at a time, from the history's
// nemesis ops: each start (with what it did) until its package's stop.
type faultLog []faultSpan

type faultSpan struct {
	pkg, what  string
	start, end int64 // end: Open while never stopped
}

func faults(h harness.History) faultLog {
	var out faultLog
	open := map[string]int{}
	for _, o := range h {
		m, ok := o.FaultMark()
		if !ok || o.Type == harness.Invoke {
			continue
		}
		if m.Stop {
			for pkg, i := range open {
				if m.Package == "" || pkg == m.Package {
					out[i].end = o.Time
					delete(open, pkg)
				}
			}
			continue
		}
		if _, on := open[m.Package]; on {
			continue
		}
		what := m.Package
		if o.Value != nil && *o.Value != "" {
			// The feedback schedule's reasons for its choice are the
			// report's business, not the anomaly's.
			desc, _, _ := strings.Cut(*o.Value, " (chosen: ")
			what += ": " + desc
		}
		open[m.Package] = len(out)
		out = append(out, faultSpan{pkg: m.Package, what: what, start: o.Time, end: Open})
	}
	return out
}

// at says the faults under way at t: "; faults under way: kill: kill
// leader n1 (since 1.10 s)", or "".
func (fl faultLog) at(t int64) string {
	var parts []string
	for _, f := range fl {
		if f.start <= t && t < f.end {
			parts = append(parts, fmt.Sprintf("%s (since %s)", f.what, secs(f.start)))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "; fault under way: " + strings.Join(parts, "; ")
}

// via names the node an op went through: ", via n2", or "".
func via(node string) string {
	if node == "" {
		return ""
	}
	return ", via " + node
}
