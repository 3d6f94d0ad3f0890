package report

// The lock checker's holds drawn on the run's time axis, one picture per
// lock: each hold a bar from its acquire's ok to where it certainly ended,
// its guarded work darker inside it, stacked in lanes so that holds that
// overlap sit one above the other; the holds of a violation in red. A
// correct lock needs one lane.

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"math"
	"sort"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/harness"
)

const (
	maxLockViews = 4    // locks drawn
	maxLockHolds = 3000 // holds drawn per lock, around the first violation
	maxLockLanes = 8
)

// lockViews draws the holds of every result that asks for the locks view.
func lockViews(res *harness.Results, tmax int64, faults []fault, violation *int64) []template.HTML {
	if res == nil {
		return nil
	}
	var out []template.HTML
	for _, c := range res.Checkers {
		var d mutex.Details
		if c.View != mutex.View || json.Unmarshal(c.Details, &d) != nil || len(d.Holds) == 0 {
			continue
		}
		bad := map[int]bool{}
		for _, v := range d.Violations {
			bad[v[0]], bad[v[1]] = true, true
		}
		byKey := map[string][]int{}
		var keys []string
		for i, h := range d.Holds {
			if _, ok := byKey[h.Key]; !ok {
				keys = append(keys, h.Key)
			}
			byKey[h.Key] = append(byKey[h.Key], i)
		}
		// Locks with violations first, then by name.
		sort.SliceStable(keys, func(i, j int) bool {
			bi, bj := anyBad(byKey[keys[i]], bad), anyBad(byKey[keys[j]], bad)
			if bi != bj {
				return bi
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			if len(out) == maxLockViews {
				break
			}
			out = append(out, lockSVG(fmt.Sprintf("locks-%d", len(out)), k, d.Holds, byKey[k], bad, tmax, faults, violation))
		}
	}
	return out
}

func anyBad(idx []int, bad map[int]bool) bool {
	for _, i := range idx {
		if bad[i] {
			return true
		}
	}
	return false
}

// lockSVG draws one lock's holds (idx into holds, by start).
func lockSVG(id, key string, holds []mutex.Hold, idx []int, bad map[int]bool, tmax int64, faults []fault, violation *int64) template.HTML {
	name := key
	if name == "" {
		name = "the lock"
	}
	idx = aroundViolation(holds, idx, bad)
	// Lanes: each hold in the first lane free at its start.
	lanes := make([]int, len(idx))
	var ends []int64
	for n, i := range idx {
		h := holds[i]
		lane := -1
		for l, e := range ends {
			if e <= h.Start {
				lane = l
				break
			}
		}
		if lane < 0 {
			lane = len(ends)
			ends = append(ends, 0)
		}
		ends[lane] = end(h, tmax)
		lanes[n] = min(lane, maxLockLanes-1)
	}
	nl := max(1, min(len(ends), maxLockLanes))
	title := fmt.Sprintf("holds of %s: %d drawn, %d lane", name, len(idx), nl)
	if nl > 1 {
		title += "s (holds that overlap are stacked)"
	}
	f := newFrame(id, title, [][2]string{{"hold", "hold"}, {"guarded work", "guarded"}, {"violation", "hold bad"}}, tmax, faults, violation)
	laneH := math.Min(44, (f.y1-f.y0-8)/float64(nl))
	for n, i := range idx {
		h := holds[i]
		xa, xb := f.x(h.Start), math.Max(f.x(end(h, tmax)), f.x(h.Start)+1.5)
		y := f.y0 + 4 + laneH*float64(lanes[n])
		cls := "hold"
		if bad[i] {
			cls = "hold bad"
		}
		tip := fmt.Sprintf("process %s · acquired ok at %s (op %d)", h.Process, secs(h.Start), h.StartIndex)
		if h.HasToken {
			tip += fmt.Sprintf(" · token %d", h.Token)
		}
		switch h.EndKind {
		case mutex.EndOpen:
			tip += " · never let go"
		case mutex.EndLost:
			tip += fmt.Sprintf(" · found the lock lost; last ok work ended %s", secs(h.End))
		default:
			tip += fmt.Sprintf(" · %s began %s (op %d)", h.EndKind, secs(h.End), h.EndIndex)
		}
		fmt.Fprintf(f.b, `<g class="%s"><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`,
			cls, html.EscapeString(tip), xa, y, xb-xa, laneH-3)
		for _, g := range h.Guarded {
			ga, gb := f.x(g[0]), math.Max(f.x(g[1]), f.x(g[0])+1)
			fmt.Fprintf(f.b, `<rect class="guarded" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, ga, y+laneH/4, gb-ga, laneH/2-1.5)
		}
		f.b.WriteString(`</g>`)
	}
	return f.html()
}

func end(h mutex.Hold, tmax int64) int64 {
	if h.End == mutex.Open || h.End > tmax {
		return tmax
	}
	return h.End
}

// aroundViolation keeps at most maxLockHolds holds: those around the first
// violating one (or the first ones when none violates).
func aroundViolation(holds []mutex.Hold, idx []int, bad map[int]bool) []int {
	if len(idx) <= maxLockHolds {
		return idx
	}
	at := 0
	for n, i := range idx {
		if bad[i] {
			at = n
			break
		}
	}
	lo := max(0, min(at-maxLockHolds/2, len(idx)-maxLockHolds))
	return idx[lo : lo+maxLockHolds]
}
