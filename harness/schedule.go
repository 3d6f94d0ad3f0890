// What fault packages may declare beyond Nemesis: their own rhythm (Paced),
// a need for a system that names its leader (FaultLeader), and a choice of
// the next fault steered by what the run showed so far (Steered).

package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"time"
)

// FaultLeader is not a fault but a capability a package may require: the
// system elects a leader and names it in its status (LeaderReporter), so
// the package can aim at it. A system without one refuses the package.
const FaultLeader Fault = "leader"

// pacedWarmup is the quiet before a Paced schedule's first fault, in
// timescales (at least a second).
const pacedWarmup = time.Second

// ScheduleFile is the run folder's record of a steered schedule's choices.
const ScheduleFile = "schedule.json"

// Paced is a package that sets its own rhythm instead of the test's
// nemesis interval: how long its fault holds before the heal, and the quiet
// after the heal before the next fault starts. Aimed packages hold for about
// an election timeout, so a 20 s run sees many of them.
type Paced interface {
	Pace(rng *rand.Rand) (hold, quiet time.Duration)
}

// Timescaled is a package whose durations (holds, quiets, the lengths of
// what it does inside a fault) are multiples of the system's timescale:
// the runner calls SetTimescale with Test.Timescale once, before the first
// fault. The built-in packages take it as their unit, never less than a
// second; the random packages' holds are the nemesis interval, which
// derives from it (NemesisIntervalFor). A package of your own
// (registry.RegisterNemesis) should do the same.
type Timescaled interface {
	SetTimescale(d time.Duration)
}

// Choice is one decision of a steered schedule.
type Choice struct {
	At      Duration `json:"at"` // test time of the decision
	Package string   `json:"package"`
	Reason  string   `json:"reason"`
}

// Steered is a package that picks its next fault from what it has seen:
// the runner calls Steer with a fresh Observation before every Start, and
// Start then injects what Steer chose. Plan returns the choices so far and
// a nemesis spec that repeats them ("feedback:kill-leader+flap+…"), which
// the runner writes to ScheduleFile for --replay.
type Steered interface {
	Steer(o Observation, rng *rand.Rand)
	Plan() (replay string, choices []Choice)
}

// Observation is what the runner saw of the run since the previous one.
type Observation struct {
	At            time.Duration
	ReportsLeader bool     // the system names a leader (aimed packages may run)
	Leader        string   // the node that leads in the highest term, "" if none
	Term          uint64   // highest term any node reports
	Commit        uint64   // highest commit index any node reports
	Leaders       int      // nodes that believe they lead
	Down          int      // nodes that did not answer their status
	NewLeader     bool     // the leader or the term changed since the previous observation
	CommitStalled bool     // the commit index did not advance since the previous observation
	NewErrors     []string // error classes of client ops first seen since the previous observation
	NewLatency    bool     // a latency regime (power-of-two bucket of the median) first seen
	Ops           int      // client completions since the previous observation
	// Supported: the faults the cluster can make, and FaultLeader if the
	// system reports a leader.
	Supported map[Fault]bool
}

// unmet says why package n cannot run in this test (nil if it can): a
// fault the deployment cannot make, or a leader the system does not report.
func unmet(p Parts, n Nemesis, f Fault) error {
	if f == FaultLeader {
		if ReportsLeader(p.System) {
			return nil
		}
		return fmt.Errorf("nemesis %q aims at the leader, but %s does not report one (use partition, kill or pause)",
			n.Name(), p.System.Name())
	}
	if !p.Deployment.Supports(p.System, f) {
		return fmt.Errorf("nemesis %q needs %s faults, which the %s deployment cannot make for %s: %w",
			n.Name(), f, p.Deployment.Name(), p.System.Name(), ErrUnsupported)
	}
	return nil
}

// pace is how long n's fault holds and the quiet after it.
func (r *run) pace(n Nemesis, rng *rand.Rand) (hold, quiet time.Duration) {
	if p, ok := n.(Paced); ok {
		return p.Pace(rng)
	}
	return r.t.NemesisInterval.D(), r.t.NemesisInterval.D()
}

// steer hands a steered package a fresh observation before its Start.
func (r *run) steer(ctx context.Context, n Nemesis, obs *observer, rng *rand.Rand) {
	s, ok := n.(Steered)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, nemesisLimit)
	defer cancel()
	s.Steer(obs.observe(ctx), rng)
}

// writeSchedule records the steered packages' choices in the run folder.
func (r *run) writeSchedule() {
	type record struct {
		Replay  string   `json:"replay"` // nemesis spec that repeats the choices
		Choices []Choice `json:"choices"`
	}
	var recs []record
	for _, n := range r.p.Nemeses {
		if s, ok := n.(Steered); ok {
			spec, choices := s.Plan()
			recs = append(recs, record{Replay: spec, Choices: choices})
		}
	}
	if len(recs) == 0 {
		return
	}
	b, err := json.MarshalIndent(recs, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(r.dir, ScheduleFile), append(b, '\n'), 0o644)
	}
	if err != nil {
		r.log.Warn("write schedule", "err", err)
	}
}

// ReplaySpec reads a run folder's schedule.json and returns the nemesis
// specs that repeat its steered choices (nil if the run had none).
func ReplaySpec(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, ScheduleFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []struct {
		Replay string `json:"replay"`
	}
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ScheduleFile), err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Replay)
	}
	return out, nil
}
