package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Feedback is a schedule that picks each next fault from what the run has
// shown so far (harness.Steered), in the spirit of Mallory's steered
// nemesis: every package is tried once, in the order of the opening, then
// each is scored by the novelty
// that followed its faults (new error classes, new latency regimes, leader
// and term changes, several nodes believing they lead, commits stalling),
// and the next one is chosen by that score with a bonus for packages tried
// less (UCB1). The state seen right now steers too: a fresh leader is
// struck at once (new-leader, kill-leader), a stalled commit is healed by
// the gentlest package. Its choices go to the history (each start says what
// was chosen and why) and to schedule.json; "feedback:a+b+c" replays them.
type Feedback struct {
	scaled
	subs    []harness.Nemesis
	byName  map[string]harness.Nemesis
	plan    []string // replay: the choices to repeat, in order
	cur     harness.Nemesis
	reason  string
	choices []harness.Choice
	tries   map[string]int
	reward  map[string]float64
	last    string // package whose fault the coming observation judges
}

// feedbackPool is what Feedback chooses from: the aimed packages (when the
// system reports a leader) and the random ones.
var feedbackPool = append(slices.Clone(aimed), "power-loss", "partition", "kill", "pause", "stutter", "latency", "clock")

// The openings: the order in which Feedback first tries each usable
// package, before it scores them. A 20 s run holds about six faults, so
// the order decides what a short run sees; the classic faults of each kind
// of protocol come first. With a leader: the leader cut off with a
// minority (stale and lease reads, lost acknowledged writes, a deposed
// leader's uncommitted suffix), every node at once (what was acknowledged
// but not durable), a frozen leader waking beside a follower that still
// answers it (read confirmation), a stale follower left the only one that
// can win (the election restriction), an election on a slow network
// (candidacies of one term that overlap), then elections struck while
// fresh.
// Without one (leaderless, quorum-replicated stores): clocks first, since
// such stores often order writes by timestamps (last writer wins), then
// partitions, every node at once, and stalls shorter than an op timeout
// (a node waking to serve before it catches up).
var (
	openingLeader = []string{"leader-minority", "power-loss", "pause-leader-brief", "stale-candidate",
		"slow-election", "new-leader", "kill-leader", "flap", "clock", "partition", "pause", "kill", "latency", "stutter"}
	openingLeaderless = []string{"clock", "partition", "power-loss", "stutter", "pause", "latency", "kill"}
)

// NewFeedback returns the feedback schedule; plan (package names), if not
// empty, is repeated instead of choosing.
func NewFeedback(plan []string) (*Feedback, error) {
	f := &Feedback{byName: map[string]harness.Nemesis{}, plan: plan, tries: map[string]int{}, reward: map[string]float64{}}
	for _, name := range feedbackPool {
		n, err := New(name)
		if err != nil {
			return nil, err
		}
		f.subs = append(f.subs, n)
		f.byName[name] = n
	}
	for _, p := range plan {
		if f.byName[p] == nil {
			return nil, fmt.Errorf("feedback plan: unknown package %q (known: %s)", p, strings.Join(feedbackPool, ", "))
		}
	}
	return f, nil
}

func (f *Feedback) Name() string { return "feedback" }

// Requires nothing itself: Steer leaves out packages the cluster cannot run.
func (f *Feedback) Requires() []harness.Fault { return nil }

// Steer judges the previous choice by what followed it and makes the next.
func (f *Feedback) Steer(o harness.Observation, rng *rand.Rand) {
	r1, r2 := rng.Float64(), rng.Float64() // always two draws: one seed, one sequence
	if f.last != "" {
		f.tries[f.last]++
		f.reward[f.last] += novelty(o)
	}
	name, why := f.choose(o, r1, r2)
	f.cur, f.reason, f.last = f.byName[name], why, name
	f.choices = append(f.choices, harness.Choice{At: harness.Duration(o.At), Package: name, Reason: why})
}

func novelty(o harness.Observation) float64 {
	v := 2*float64(len(o.NewErrors)) + b2f(o.NewLatency) + b2f(o.NewLeader)
	if o.Leaders > 1 {
		v += 3 // two nodes believe they lead: the protocol's edge
	}
	return v
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (f *Feedback) choose(o harness.Observation, r1, r2 float64) (string, string) {
	if i := len(f.choices); i < len(f.plan) {
		return f.plan[i], "replayed"
	}
	var usable []string
	for _, n := range f.subs {
		if f.usable(n, o) {
			usable = append(usable, n.Name())
		}
	}
	if len(usable) == 0 {
		return "kill", "nothing else is usable"
	}
	opening := openingLeaderless
	if o.ReportsLeader {
		opening = openingLeader
	}
	for _, n := range opening {
		if f.tries[n] == 0 && slices.Contains(usable, n) { // tries counts the last choice already
			return n, "opening: every package once, the protocol's classic faults first"
		}
	}
	switch {
	case o.NewLeader && o.Leader != "" && r1 < 0.5 && slices.Contains(usable, "new-leader"):
		pick := []string{"new-leader", "kill-leader", "leader-minority"}[int(r2*3)]
		return pick, fmt.Sprintf("new leader %s in term %d: strike it while it is fresh", o.Leader, o.Term)
	case o.CommitStalled && o.Ops > 0 && r1 < 0.3:
		return "pause", fmt.Sprintf("commit stalled at %d: a gentler fault", o.Commit)
	}
	total := 0
	for _, n := range usable {
		total += f.tries[n]
	}
	// UCB1 with a prior worth one try: aimed packages start at 3 (they
	// cause elections by design), the others at 1, so a 20 s run needs not
	// try every package before it exploits.
	best, bestScore := "", math.Inf(-1)
	for i, n := range usable {
		prior := 1.0
		if slices.Contains(aimed, n) {
			prior = 3
		}
		tries := float64(f.tries[n] + 1)
		score := (f.reward[n]+prior)/tries + math.Sqrt(2*math.Log(float64(total+1))/tries)
		score += 1e-6 * float64((i+int(r2*1e6))%len(usable)) // seeded tie-break
		if score > bestScore {
			best, bestScore = n, score
		}
	}
	return best, fmt.Sprintf("novelty %.1f over %d faults (new errors, latency regimes, leaders, terms)", f.reward[best], f.tries[best])
}

// usable: the cluster can make its faults, and its leader is reported if it
// aims at one.
func (f *Feedback) usable(n harness.Nemesis, o harness.Observation) bool {
	for _, fl := range n.Requires() {
		if !o.Supported[fl] {
			return false
		}
	}
	return true
}

func (f *Feedback) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	if f.cur == nil {
		f.cur, f.reason = f.byName["partition"], "not steered"
	}
	ev, err := f.cur.Start(ctx, c, rng)
	if !strings.HasPrefix(ev.Description, f.cur.Name()) {
		ev.Description = f.cur.Name() + ": " + ev.Description
	}
	ev.Description += " (chosen: " + f.reason + ")"
	return ev, err
}

// SetTimescale gives every package it chooses from the system's timescale.
func (f *Feedback) SetTimescale(d time.Duration) {
	f.scaled.SetTimescale(d)
	for _, n := range f.subs {
		if ts, ok := n.(harness.Timescaled); ok {
			ts.SetTimescale(d)
		}
	}
}

// Pace is the chosen package's, or the random packages' 2 s.
func (f *Feedback) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	if p, ok := f.cur.(harness.Paced); ok {
		return p.Pace(rng)
	}
	return f.span(rng, 1.5, 3), f.span(rng, 0.3, 1.5)
}

// Heal heals the current package, then every other one used so far: a
// failed heal or start may have left any of them half-made.
func (f *Feedback) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	if f.cur == nil {
		return harness.FaultEvent{Description: "heal nothing"}, nil
	}
	ev, err := f.cur.Heal(ctx, c)
	errs := []error{err}
	for name := range f.tries {
		if n := f.byName[name]; n != f.cur {
			_, err := n.Heal(ctx, c)
			errs = append(errs, err)
		}
	}
	return ev, errors.Join(errs...)
}

// Plan returns the choices so far and the spec that repeats them.
func (f *Feedback) Plan() (string, []harness.Choice) {
	names := make([]string, len(f.choices))
	for i, c := range f.choices {
		names[i] = c.Package
	}
	return "feedback:" + strings.Join(names, "+"), slices.Clone(f.choices)
}
