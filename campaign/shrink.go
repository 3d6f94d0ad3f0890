package campaign

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Try is one candidate the shrinker ran.
type Try struct {
	Test    harness.Test     `json:"test"`
	Verdict harness.Validity `json:"verdict"`
	Dir     string           `json:"dir,omitempty"`
	Kept    bool             `json:"kept"`
	Note    string           `json:"note"`
}

// ShrinkOptions bound the shrinker.
type ShrinkOptions struct {
	Run      RunFunc
	MinTime  time.Duration // never shorter than this (default 2s)
	MaxTries int           // candidate runs at most (default 12)
	Logf     func(string, ...any)
}

// Shrink looks for a smaller configuration of a failing test that still
// fails with the same seed: fewer nemesis packages, a time limit just past
// the first violation, then halved time limits and fewer clients. It returns
// the smallest failing test found (the original if nothing smaller failed)
// and every candidate tried. firstViolation is the original run's test time
// of the first violating op (ns), or nil.
func Shrink(ctx context.Context, orig harness.Test, firstViolation *int64, o ShrinkOptions) (harness.Test, []Try, error) {
	if o.MinTime <= 0 {
		o.MinTime = 2 * time.Second
	}
	if o.MaxTries <= 0 {
		o.MaxTries = 12
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	best := orig
	var tries []Try
	attempt := func(t harness.Test, note string) bool {
		if len(tries) >= o.MaxTries || ctx.Err() != nil {
			return false
		}
		logf("shrink: trying %s", note)
		res, err := o.Run(ctx, t)
		tr := Try{Test: t, Note: note}
		if err == nil && res != nil {
			tr.Verdict = res.Verdict
		}
		tr.Kept = tr.Verdict == harness.Invalid
		tries = append(tries, tr)
		logf("shrink: %s -> %s", note, tr.Verdict)
		if tr.Kept {
			best = t
			if res.FirstViolation != nil {
				firstViolation = res.FirstViolation
			}
		}
		return tr.Kept
	}

	// 1. Fewer fault packages: drop one at a time while it still fails.
	for i := 0; len(best.Nemesis) > 1 && i < len(best.Nemesis); {
		t := best
		t.Nemesis = append(append([]string(nil), best.Nemesis[:i]...), best.Nemesis[i+1:]...)
		if !attempt(t, fmt.Sprintf("nemesis %s", t.NemesisName())) {
			i++
		}
	}
	// 2. Stop just after the first violation was seen.
	if firstViolation != nil {
		cut := time.Duration(math.Ceil(float64(*firstViolation)/1e9))*time.Second + time.Second
		if cut < o.MinTime {
			cut = o.MinTime
		}
		if cut < best.TimeLimit.D() {
			t := best
			t.TimeLimit = harness.Duration(cut)
			attempt(t, fmt.Sprintf("time limit %s (first violation at %.1f s)", cut, float64(*firstViolation)/1e9))
		}
	}
	// 3. Halve the time limit while it still fails.
	for best.TimeLimit.D()/2 >= o.MinTime {
		t := best
		t.TimeLimit = harness.Duration((best.TimeLimit.D() / 2).Round(time.Second))
		if !attempt(t, fmt.Sprintf("time limit %s", t.TimeLimit.D())) {
			break
		}
	}
	// 4. Fewer clients.
	for best.Concurrency/2 >= 2 {
		t := best
		t.Concurrency = best.Concurrency / 2
		if !attempt(t, fmt.Sprintf("concurrency %d", t.Concurrency)) {
			break
		}
	}
	return best, tries, ctx.Err()
}
