// The runner: a run is a sequence of phases, each in a file of its own —
// setup.go (cluster up, healthy, teardown), workers.go (the main phase's
// clients and pacing), faults.go (the fault schedule and the heal),
// recovery.go (final reads and convergence digests), check.go (checkers and
// verdict) and results.go (the run folder).

package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Parts are the components a test's names resolve to (see package registry).
type Parts struct {
	System     System
	Deployment Deployment
	Workload   Workload
	Nemeses    []Nemesis
	Logger     Logger         // nil = silent
	Progress   func(Progress) // called about twice a second and at each phase; nil = none
	// Watch, if set, sees every op as it is recorded, in order (under the
	// history's lock: keep it short). Returning true ends the main phase
	// early: a hook for programs that drive Run themselves and have their
	// own reason to stop (--stop-on-violation does not use it; it checks
	// the history so far every few seconds).
	Watch func(Op) (stop bool)
	// Command makes the command line that replays the run in dir
	// (results.json, the report); nil = the gauntlet command,
	// Test.CommandLine.
	Command func(t Test, dir string) string
}

// Progress is a snapshot of a run for live display.
type Progress struct {
	Phase     string
	Dir       string
	Elapsed   time.Duration // of the main phase
	Remaining time.Duration
	OK        int64
	Fail      int64
	Info      int64
	Rate      float64  // completed client ops per second, recent
	Faults    []string // faults active now
}

// Phase names, in the order a run goes through them.
const (
	PhaseSetup    = "setup"
	PhaseHealthy  = "wait-healthy"
	PhaseSystem   = "system-setup" // the system's own Setup step
	PhaseMain     = "main"
	PhaseHeal     = "heal"
	PhaseRecovery = "recovery"
	PhaseDigests  = "digests"
	PhaseTeardown = "teardown"
	PhaseCheck    = "check"
	PhaseDone     = "done"
)

// Bounds of phases that have no flag of their own.
const (
	healthyLimit  = 60 * time.Second
	nemesisLimit  = 30 * time.Second // one fault's start or heal
	teardownLimit = 2 * time.Minute
)

// Run carries out a test: setup → wait healthy → main phase (workers and
// nemesis) → heal → recovery reads → convergence digests → teardown →
// check, and writes config.json, history.jsonl, results.json and
// digests.json under <Out>/<Name>/<start>/ (and points <Out>/latest there).
//
// Teardown always runs: after errors, panics and cancellation of ctx. When
// ctx is cancelled (Ctrl-C) the run skips to teardown, checks what it
// recorded and returns results with Interrupted set; an interrupted run is
// never valid (unknown unless it found a violation).
//
// A test that cannot be run as configured returns a *ConfigError before
// anything starts. A run that could not be carried out (the cluster did not
// start, a panic) returns results with Error set and a non-nil error.
func Run(ctx context.Context, t Test, p Parts) (*Results, error) {
	if t.System == "" && p.System != nil {
		t.System = p.System.Name() // config.json names the system that ran
	}
	t = t.WithDefaults().ForSystem(p.System)
	if err := checkParts(t, p); err != nil {
		return nil, err
	}
	start := time.Now()
	dir, err := NewRunDir(t.Out, t.Name, start)
	if err != nil {
		return nil, err
	}
	r := &run{t: t, p: p, dir: dir, log: p.Logger, start: start}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r.execute(ctx)
}

func checkParts(t Test, p Parts) error {
	if err := t.Validate(); err != nil {
		return &ConfigError{err}
	}
	if p.System == nil || p.Deployment == nil || p.Workload == nil {
		return &ConfigError{errors.New("a test needs a system, a deployment and a workload")}
	}
	if p.System.Name() != t.System {
		return &ConfigError{fmt.Errorf("the test names system %q but the system given is %q: config.json must name the system that runs", t.System, p.System.Name())}
	}
	var errs []error
	if err := Serves(p.System, p.Workload); err != nil {
		errs = append(errs, err)
	}
	for _, n := range p.Nemeses {
		for _, f := range n.Requires() {
			if err := unmet(p, n, f); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return &ConfigError{errors.Join(errs...)}
	}
	return nil
}

type run struct {
	t     Test
	p     Parts
	dir   string
	log   Logger
	start time.Time

	res     Results
	cluster Cluster
	nodes   []string
	hw      *historyWriter
	gen     Generator
	genMu   sync.Mutex
	digests []Digest
	extra   []Result // the runner's own findings (recovery, elections)
	// elections samples statuses from the wait for health to teardown (nil
	// if the system's statuses cannot show election safety).
	elections *electionWatch
	runErr    error // why the run could not be carried out

	phaseMu sync.Mutex
	phase   string

	// live counters for progress
	okN, failN, infoN atomic.Int64
	maxProc           atomic.Int64
	faultMu           sync.Mutex
	faults            map[string]string // package -> description of the active fault
	// ended is cancelled, with the reason as its cause, once the run has
	// what it came for early (a Watch hook, an online check's violation,
	// two leaders of one term): the one way the main phase, or a wait for
	// health under way, ends before its time (endMain).
	ended   context.Context
	end     context.CancelCauseFunc
	mainT0  time.Time   // start of the main phase: time 0 of the history
	phaseT0 []time.Time // absolute starts of res.Phases
}

func (r *run) execute(ctx context.Context) (res *Results, err error) {
	r.res = Results{Test: r.t, Start: r.start, Command: r.t.CommandLine(), Dir: r.dir}
	if r.p.Command != nil {
		r.res.Command = r.p.Command(r.t, r.dir)
	}
	r.faults = map[string]string{}
	r.log.Info("run", "test", r.t.Name, "seed", r.t.Seed, "dir", r.dir)

	if err := WriteJSON(filepath.Join(r.dir, ConfigFile), r.t); err != nil {
		return nil, err
	}
	// The history exists from the start (an interrupted setup leaves an
	// empty one); its clock is reset to the main phase's start.
	hw, err := newHistoryWriter(filepath.Join(r.dir, HistoryFile), time.Now())
	if err != nil {
		return nil, err
	}
	r.hw = hw
	if r.p.Watch != nil {
		hw.Watch(func(op Op) {
			if r.ended.Err() == nil && r.p.Watch(op) {
				r.endMain(errWatched)
			}
		})
	}

	r.enclosed(ctx)
	if ctx.Err() != nil {
		r.res.Interrupted = true
	}
	if err := hw.Close(); err != nil {
		r.log.Error("history", "err", err)
		if r.runErr == nil {
			r.runErr = err
		}
	}
	// Check even an interrupted run: what it recorded may prove a violation.
	// The check gets its own bound, not ctx, which may be cancelled already.
	r.setPhase(PhaseCheck)
	t0 := time.Now()
	r.res.Checkers = r.check(context.WithoutCancel(ctx))
	r.addPhase(PhaseCheck, t0, nil)
	r.finish()
	if err := r.write(); err != nil && r.runErr == nil {
		r.runErr = err
	}
	r.setPhase(PhaseDone)
	out := r.res
	if r.runErr != nil {
		return &out, r.runErr
	}
	return &out, nil
}

// enclosed runs the cycle inside the deployment's world if it has one
// (Enclosure); the check that follows runs outside, on the machine's clock,
// so that its time limit is real.
func (r *run) enclosed(ctx context.Context) {
	enc, ok := r.p.Deployment.(Enclosure)
	if !ok {
		r.cycle(ctx)
		return
	}
	if err := enc.Enclose(ctx, r.cycle); err != nil && r.runErr == nil {
		r.runErr = fmt.Errorf("%s deployment: %w", r.p.Deployment.Name(), err)
		r.log.Error("enclosure", "err", err)
	}
}

// cycle runs the phases up to teardown; teardown runs whatever happens.
func (r *run) cycle(ctx context.Context) {
	// The run-wide context is made and ended here, inside the enclosure
	// when there is one: a context's channel made in a synctest bubble
	// must not be closed outside it (a fatal error), and one made outside
	// would not let the bubble's clock advance while a phase waits on it.
	r.ended, r.end = context.WithCancelCause(context.Background())
	defer r.end(nil)
	defer func() {
		if v := recover(); v != nil {
			r.runErr = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			r.log.Error("panic", "err", r.runErr)
		}
		if r.elections != nil {
			r.extra = append(r.extra, r.elections.finish())
		}
		r.teardown(ctx)
	}()
	// Phases that find something return it; the plot keeps it for the
	// phases that follow.
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{PhaseSetup, func(ctx context.Context) error {
			c, err := r.setup(ctx)
			if c != nil {
				r.cluster = c // even on error: teardown closes a half-made cluster
			}
			if err == nil {
				r.nodes = c.Nodes()
			}
			return err
		}},
		{PhaseHealthy, r.waitHealthy},
		{PhaseSystem, r.setupSystem},
		{PhaseMain, func(ctx context.Context) error {
			took, err := r.mainPhase(ctx)
			r.res.TestTime = Duration(took)
			return err
		}},
		{PhaseHeal, r.heal},
		{PhaseRecovery, func(ctx context.Context) error {
			res, err := r.recoverPhase(ctx)
			if res != nil {
				r.extra = append(r.extra, *res)
			}
			return err
		}},
		{PhaseDigests, func(ctx context.Context) (err error) {
			r.digests, err = r.collectDigests(ctx)
			return err
		}},
	}
	for _, s := range steps {
		if ctx.Err() != nil {
			return
		}
		r.setPhase(s.name)
		t0 := time.Now()
		err := s.fn(ctx)
		r.addPhase(s.name, t0, err)
		if err != nil && ctx.Err() == nil && (s.name == PhaseHealthy || s.name == PhaseSystem) && r.elections.violated() {
			// Not a setup that failed: the nodes elected two leaders of one
			// term, and the election-safety result says so.
			r.log.Warn("the cluster did not become healthy: two leaders of one term", "err", err)
			return
		}
		if err != nil && ctx.Err() == nil {
			switch s.name {
			case PhaseSetup, PhaseHealthy, PhaseSystem, PhaseMain:
				// Without a cluster that serves, there is no test.
				r.runErr = fmt.Errorf("%s: %w", s.name, err)
				r.log.Error("phase failed", "phase", s.name, "err", err)
				return
			default:
				r.log.Warn("phase failed", "phase", s.name, "err", err)
			}
		}
	}
}

// Why a run's main phase ended before its time limit (endMain's causes).
var (
	errWatched    = errors.New("the Watch hook asked to stop")
	errViolation  = errors.New("an online check found a violation")
	errTwoLeaders = errors.New("two leaders of one term")
)

// endMain ends the main phase early, for cause (the first cause given
// stands): a wait for health under way ends at once, and a main phase not
// begun yet ends as it begins.
func (r *run) endMain(cause error) {
	r.end(cause)
}

// endedEarly ends ctx, for the phase that derives it, when the run ends
// early; call the returned func when the phase is over.
func (r *run) endedEarly(cancel context.CancelFunc) (stop func() bool) {
	return context.AfterFunc(r.ended, cancel)
}

func (r *run) setPhase(name string) {
	r.phaseMu.Lock()
	r.phase = name
	r.phaseMu.Unlock()
	r.log.Info("phase", "phase", name)
	r.progress(0)
}

func (r *run) addPhase(name string, t0 time.Time, err error) {
	ph := Phase{Name: name, Duration: Duration(time.Since(t0))}
	r.phaseT0 = append(r.phaseT0, t0)
	if err != nil {
		ph.Error = err.Error()
	}
	r.res.Phases = append(r.res.Phases, ph)
}

func (r *run) progress(rate float64) {
	if r.p.Progress == nil {
		return
	}
	r.phaseMu.Lock()
	phase := r.phase
	r.phaseMu.Unlock()
	pr := Progress{Phase: phase, Dir: r.dir, OK: r.okN.Load(), Fail: r.failN.Load(), Info: r.infoN.Load(), Rate: rate}
	switch {
	case phase == PhaseMain && r.mainT0.IsZero():
		pr.Remaining = r.t.TimeLimit.D()
	case phase == PhaseMain:
		pr.Elapsed = time.Since(r.mainT0)
		pr.Remaining = max(0, r.t.TimeLimit.D()-pr.Elapsed)
	case !r.mainT0.IsZero():
		pr.Elapsed = r.res.TestTime.D()
	}
	r.faultMu.Lock()
	for _, d := range r.faults {
		pr.Faults = append(pr.Faults, d)
	}
	r.faultMu.Unlock()
	sort.Strings(pr.Faults)
	r.p.Progress(pr)
}

// --- phases -----------------------------------------------------------------

func (r *run) progressLoop(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	lastN, lastT := int64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := r.okN.Load() + r.failN.Load() + r.infoN.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			r.progress(rate)
		}
	}
}
