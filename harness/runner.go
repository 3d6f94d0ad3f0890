package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
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
	// early, e.g. when an online check has proved a violation.
	Watch func(Op) (stop bool)
	// Converged tells whether digests show a converged cluster (the
	// convergence checker's own criterion). The runner samples digests
	// until it holds or the recovery limit passes, so that a replica still
	// catching up after a heal is not mistaken for a divergent one. nil: all
	// digests equal.
	Converged func([]Digest) bool
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

// RecoveryChecker names the runner's own result for the recovery phase.
const RecoveryChecker = "recovery"

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
	t = t.WithDefaults()
	if err := checkParts(t, p); err != nil {
		return nil, err
	}
	start := time.Now()
	dir, err := makeRunDir(t.Out, t.Name, start)
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
	var errs []error
	for _, n := range p.Nemeses {
		for _, f := range n.Requires() {
			if !p.Deployment.Supports(p.System, f) {
				errs = append(errs, fmt.Errorf("nemesis %q needs %s faults, which the %s deployment cannot make for %s: %w",
					n.Name(), f, p.Deployment.Name(), p.System.Name(), ErrUnsupported))
			}
		}
	}
	if len(errs) > 0 {
		return &ConfigError{errors.Join(errs...)}
	}
	return nil
}

// makeRunDir creates <out>/<name>/<start>, adding a suffix if a parallel run
// took the name in the same second.
func makeRunDir(out, name string, start time.Time) (string, error) {
	parent := filepath.Join(out, name)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create results dir: %w", err)
	}
	base := start.UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		dir := filepath.Join(parent, base)
		if i > 1 {
			dir += fmt.Sprintf("-%d", i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 1000 {
			return "", fmt.Errorf("create run dir: %w", err)
		}
	}
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
	hw      *HistoryWriter
	gen     Generator
	genMu   sync.Mutex
	digests []Digest
	extra   []Result // the runner's own findings (recovery)
	runErr  error    // why the run could not be carried out

	phaseMu sync.Mutex
	phase   string

	// live counters for progress
	okN, failN, infoN atomic.Int64
	maxProc           atomic.Int64
	faultMu           sync.Mutex
	faults            map[string]string // package -> description of the active fault
	stopMain          context.CancelFunc
	stopped           atomic.Bool // the Watch hook ended the main phase
	mainT0            time.Time   // start of the main phase: time 0 of the history
	phaseT0           []time.Time // absolute starts of res.Phases
}

func (r *run) execute(ctx context.Context) (res *Results, err error) {
	r.res = Results{Test: r.t, Start: r.start, Command: r.t.CommandLine(), Dir: r.dir}
	r.faults = map[string]string{}
	r.log.Info("run", "test", r.t.Name, "seed", r.t.Seed, "dir", r.dir)

	if err := writeJSON(filepath.Join(r.dir, ConfigFile), r.t); err != nil {
		return nil, err
	}
	// The history exists from the start (an interrupted setup leaves an
	// empty one); its clock is reset to the main phase's start.
	hw, err := NewHistoryWriter(filepath.Join(r.dir, HistoryFile), time.Now())
	if err != nil {
		return nil, err
	}
	r.hw = hw
	if r.p.Watch != nil {
		hw.Watch(func(op Op) {
			if !r.stopped.Load() && r.p.Watch(op) {
				r.stopped.Store(true)
				if r.stopMain != nil {
					r.stopMain()
				}
			}
		})
	}

	r.cycle(ctx)
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
	r.check(context.WithoutCancel(ctx))
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

// cycle runs the phases up to teardown; teardown runs whatever happens.
func (r *run) cycle(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			r.runErr = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			r.log.Error("panic", "err", r.runErr)
		}
		r.teardown(ctx)
	}()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{PhaseSetup, r.setup},
		{PhaseHealthy, r.waitHealthy},
		{PhaseMain, r.mainPhase},
		{PhaseHeal, r.heal},
		{PhaseRecovery, r.recoverPhase},
		{PhaseDigests, r.collectDigests},
	}
	for _, s := range steps {
		if ctx.Err() != nil {
			return
		}
		r.setPhase(s.name)
		t0 := time.Now()
		err := s.fn(ctx)
		r.addPhase(s.name, t0, err)
		if err != nil && ctx.Err() == nil {
			switch s.name {
			case PhaseSetup, PhaseHealthy, PhaseMain:
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

func (r *run) setup(ctx context.Context) error {
	c, err := r.p.Deployment.Deploy(ctx, ClusterSpec{
		Nodes:  r.t.Nodes,
		System: r.p.System,
		Bug:    r.t.Bug,
		Dir:    r.dir,
		RunID:  filepath.Base(filepath.Dir(r.dir)) + "-" + filepath.Base(r.dir),
		Log:    r.log,
	})
	if c != nil {
		r.cluster = c // even on error: Close must clean up a half-made cluster
	}
	if err != nil {
		return fmt.Errorf("deploy %s on %s: %w", r.p.System.Name(), r.p.Deployment.Name(), err)
	}
	r.nodes = c.Nodes()
	if len(r.nodes) == 0 {
		return errors.New("deployment made a cluster without nodes")
	}
	return nil
}

// waitHealthy waits until every node answers its status and, for a system
// with leaders, one is elected. A cluster may know better (WaitHealthy).
func (r *run) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthyLimit)
	defer cancel()
	if w, ok := r.cluster.(interface{ WaitHealthy(context.Context) error }); ok {
		if err := w.WaitHealthy(ctx); err != nil {
			return fmt.Errorf("cluster not healthy within %s: %w", healthyLimit, err)
		}
		return nil
	}
	var last error
	for {
		last = r.healthy(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy within %s: %w", healthyLimit, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *run) healthy(ctx context.Context) error {
	leaderBased, leader := false, false
	for _, n := range r.nodes {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := r.p.System.Status(sctx, r.cluster.ClientAddr(n))
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		switch st.Role {
		case "leader":
			leaderBased, leader = true, true
		case "follower", "candidate":
			leaderBased = true
		}
	}
	if leaderBased && !leader {
		return errors.New("no leader elected")
	}
	return nil
}

// seedFor derives an independent seed per purpose (splitmix64), so that the
// generator's and the nemesis's draws do not disturb each other on replay.
func seedFor(seed int64, stream uint64) int64 {
	z := uint64(seed) + stream*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return int64(z ^ (z >> 31))
}

const (
	streamGenerator = 1
	streamNemesis   = 2
)

func (r *run) mainPhase(ctx context.Context) error {
	r.gen = r.p.Workload.Generator(rand.New(rand.NewSource(seedFor(r.t.Seed, streamGenerator))))
	clients := make([]Client, r.t.Concurrency)
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	for w := range clients {
		node := r.nodes[w%len(r.nodes)]
		c, err := r.p.System.NewClient(node, r.cluster.ClientAddr(node))
		if err != nil {
			return fmt.Errorf("client for %s: %w", node, err)
		}
		clients[w] = c
	}

	r.mainT0 = time.Now()
	r.hw.restart(r.mainT0)
	mctx, cancel := context.WithTimeout(ctx, r.t.TimeLimit.D())
	defer cancel()
	r.stopMain = cancel
	if r.stopped.Load() {
		cancel()
	}

	var pace *pacer
	if r.t.Rate > 0 {
		pace = &pacer{gap: time.Duration(float64(time.Second) / r.t.Rate)}
	}
	var wg sync.WaitGroup
	errc := make(chan error, r.t.Concurrency+1)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.worker(ctx, mctx, w, clients[w], pace); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		defer func() {
			if v := recover(); v != nil {
				errc <- fmt.Errorf("nemesis panic: %v\n%s", v, debug.Stack())
				cancel()
			}
		}()
		r.nemesis(ctx, mctx)
	}()
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		r.progressLoop(mctx)
	}()
	onlineDone := make(chan struct{})
	go func() {
		defer close(onlineDone)
		if r.t.StopOnViolation {
			r.onlineCheck(mctx, cancel)
		}
	}()

	wg.Wait()
	cancel()
	<-nemDone
	<-progDone
	<-onlineDone
	r.res.TestTime = Duration(time.Since(r.mainT0))
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// onlineCheck, for --stop-on-violation, runs the workload's checkers on the
// history so far every few seconds and ends the main phase once one says
// invalid. This is sound: ops still in flight count as unknown, so a
// violation in a prefix is one in the whole history. The final verdict still
// comes from the full check.
func (r *run) onlineCheck(mctx context.Context, stop context.CancelFunc) {
	const every = 2 * time.Second
	for {
		select {
		case <-mctx.Done():
			return
		case <-time.After(every):
		}
		in := CheckInput{History: r.hw.History()} // Dir "": no artifacts
		for _, res := range Check(mctx, r.p.Workload.Checkers(), in, r.t.CheckTimeout.D(), nil) {
			if res.Validity == Invalid && mctx.Err() == nil {
				r.log.Info("online check found a violation; ending the main phase", "checker", res.Checker)
				r.stopped.Store(true)
				stop()
				return
			}
		}
	}
}

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

// worker drives one client: worker w starts as process w and, after each
// info, continues as process w+Concurrency·k, so every process has at most
// one op outstanding and an unknown outcome never blocks later ops.
// Ops run under ctx (not mctx): an op in flight when the time limit
// expires completes normally, bounded by the op timeout.
func (r *run) worker(ctx, mctx context.Context, w int, c Client, pace *pacer) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("worker %d panic: %v\n%s", w, v, debug.Stack())
		}
	}()
	node := r.nodes[w%len(r.nodes)]
	proc := Process(w)
	r.noteProc(proc)
	for mctx.Err() == nil {
		if pace != nil && !pace.wait(mctx) {
			return nil
		}
		next := r.next(proc)
		next.Process, next.Type, next.Node = proc, Invoke, node
		inv := r.hw.Record(next)
		done := r.invoke(ctx, c, inv)
		r.count(done.Type)
		if done.Type == Info {
			proc += Process(r.t.Concurrency)
			r.noteProc(proc)
		}
		if done.Type != OK && time.Duration(done.Time-inv.Time) < fastFailure {
			// The node refused at once (killed, not yet up): do not spin
			// and starve the cluster of CPU with thousands of failed ops.
			select {
			case <-mctx.Done():
			case <-time.After(failureBackoff):
			}
		}
	}
	return nil
}

// A worker whose op failed within fastFailure waits failureBackoff.
const (
	fastFailure    = 2 * time.Millisecond
	failureBackoff = 20 * time.Millisecond
)

func (r *run) next(p Process) Op {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	return r.gen.Next(p)
}

// invoke calls the client and records the completion. A client that panics
// or answers nonsense yields info: nothing is known of the op.
func (r *run) invoke(ctx context.Context, c Client, inv Op) (done Op) {
	octx, cancel := context.WithTimeout(ctx, r.t.OpTimeout.D())
	defer cancel()
	func() {
		defer func() {
			if v := recover(); v != nil {
				done = inv.Complete(Info)
				done.Error = fmt.Sprintf("client panic: %v", v)
				r.log.Error("client panic", "op", inv.String(), "panic", v, "stack", string(debug.Stack()))
			}
		}()
		done = c.Invoke(octx, inv)
	}()
	switch done.Type {
	case OK, Fail, Info:
	default:
		done.Error = strings.TrimSpace(done.Error + fmt.Sprintf(" (client returned type %q)", done.Type))
		done.Type = Info
	}
	done.Process, done.F, done.Key, done.Node = inv.Process, inv.F, inv.Key, inv.Node
	if done.Type != OK || inv.F != FRead {
		// What was attempted stays known to the checker (an info write's value).
		if done.Value == nil {
			done.Value = inv.Value
		}
		if done.From == nil {
			done.From = inv.From
		}
	}
	return r.hw.Record(done)
}

func (r *run) count(t Type) {
	switch t {
	case OK:
		r.okN.Add(1)
	case Fail:
		r.failN.Add(1)
	default:
		r.infoN.Add(1)
	}
}

func (r *run) noteProc(p Process) {
	for {
		cur := r.maxProc.Load()
		if int64(p) <= cur || r.maxProc.CompareAndSwap(cur, int64(p)) {
			return
		}
	}
}

// pacer spaces ops evenly to a total rate across workers.
type pacer struct {
	mu   sync.Mutex
	next time.Time
	gap  time.Duration
}

func (p *pacer) wait(ctx context.Context) bool {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.gap)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// nemesis runs the fault schedule until mctx is done: every interval it
// starts a fault of a package drawn with the nemesis rng, and heals it one
// interval later. Faults still active at the end are healed by the heal
// phase. Fault calls use ctx, so a start under way at the time limit
// finishes and is recorded.
func (r *run) nemesis(ctx, mctx context.Context) {
	if len(r.p.Nemeses) == 0 {
		return
	}
	rng := rand.New(rand.NewSource(seedFor(r.t.Seed, streamNemesis)))
	interval := r.t.NemesisInterval.D()
	sleep := func() bool {
		tm := time.NewTimer(interval)
		defer tm.Stop()
		select {
		case <-mctx.Done():
			return false
		case <-tm.C:
			return true
		}
	}
	for {
		if !sleep() {
			return
		}
		n := r.p.Nemeses[rng.Intn(len(r.p.Nemeses))]
		r.startFault(ctx, n, rng)
		if !sleep() {
			return
		}
		r.healFault(ctx, n)
	}
}

func (r *run) startFault(ctx context.Context, n Nemesis, rng *rand.Rand) {
	ctx, cancel := context.WithTimeout(ctx, nemesisLimit)
	defer cancel()
	inv := r.hw.Record(Op{Process: NemesisProcess, Type: Invoke, F: "start-" + n.Name()})
	ev, err := n.Start(ctx, r.cluster, rng)
	done := r.faultOp(inv, ev, err)
	if done.Type == OK {
		r.faultMu.Lock()
		r.faults[n.Name()] = ev.Description
		r.faultMu.Unlock()
		r.log.Info("fault", "start", n.Name(), "fault", ev.Description)
	} else {
		r.log.Warn("fault failed", "start", n.Name(), "err", err)
		// A half-made fault is still healed: mark the package active.
		r.faultMu.Lock()
		r.faults[n.Name()] = n.Name() + " (failed to start)"
		r.faultMu.Unlock()
	}
}

func (r *run) healFault(ctx context.Context, n Nemesis) {
	ctx, cancel := context.WithTimeout(ctx, nemesisLimit)
	defer cancel()
	inv := r.hw.Record(Op{Process: NemesisProcess, Type: Invoke, F: "stop-" + n.Name()})
	ev, err := n.Heal(ctx, r.cluster)
	r.faultOp(inv, ev, err)
	if err != nil {
		r.log.Warn("heal failed", "stop", n.Name(), "err", err)
		return
	}
	r.faultMu.Lock()
	delete(r.faults, n.Name())
	r.faultMu.Unlock()
	r.log.Info("fault", "stop", n.Name(), "fault", ev.Description)
}

func (r *run) faultOp(inv Op, ev FaultEvent, err error) Op {
	done := inv
	done.Type = OK
	if ev.Description != "" {
		done.Value = Str(ev.Description)
	}
	done.Node = strings.Join(ev.Nodes, ",")
	if err != nil {
		done.Type = Fail
		done.Error = err.Error()
	}
	return r.hw.Record(done)
}

// heal undoes every package, active or not (a failed heal may have left
// something behind), then the cluster's network as a whole.
func (r *run) heal(ctx context.Context) error {
	var errs []error
	for _, n := range r.p.Nemeses {
		r.faultMu.Lock()
		_, active := r.faults[n.Name()]
		r.faultMu.Unlock()
		if active {
			r.healFault(ctx, n)
			continue
		}
		hctx, cancel := context.WithTimeout(ctx, nemesisLimit)
		_, err := n.Heal(hctx, r.cluster)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("heal %s: %w", n.Name(), err))
		}
	}
	r.faultMu.Lock()
	for name := range r.faults {
		errs = append(errs, fmt.Errorf("fault %s is still active after healing", name))
	}
	r.faultMu.Unlock()
	if len(r.p.Nemeses) > 0 {
		hctx, cancel := context.WithTimeout(ctx, nemesisLimit)
		defer cancel()
		if err := r.cluster.Heal(hctx); err != nil && !errors.Is(err, ErrUnsupported) {
			errs = append(errs, fmt.Errorf("heal network: %w", err))
		}
	}
	return errors.Join(errs...)
}

// recoverPhase reads every key the generator used until each read succeeds or
// the recovery limit expires. The reads are part of the history (they are
// the final reads the checkers see). A key that cannot be read after every
// fault was healed is a finding: the runner reports it as an invalid
// "recovery" result, since a system that never serves again is broken even
// if everything it did serve was correct.
func (r *run) recoverPhase(ctx context.Context) error {
	r.genMu.Lock()
	var keys []string
	if r.gen != nil {
		keys = append(keys, r.gen.Keys()...)
	}
	r.genMu.Unlock()
	if len(keys) == 0 {
		r.extra = append(r.extra, Result{Checker: RecoveryChecker, Validity: Valid, Summary: "no keys to read"})
		return nil
	}
	limit := r.t.RecoveryLimit.D()
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t0 := time.Now()

	keyc := make(chan int, len(keys))
	for i := range keys {
		keyc <- i
	}
	close(keyc)
	var mu sync.Mutex
	failed := map[string]string{} // key -> last error
	readers := min(r.t.Concurrency, len(keys))
	var wg sync.WaitGroup
	for w := 0; w < readers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients := map[string]Client{}
			defer func() {
				for _, c := range clients {
					_ = c.Close()
				}
			}()
			proc := Process(r.maxProc.Add(1))
			for i := range keyc {
				var last string
				ok := false
				for attempt := 0; rctx.Err() == nil; attempt++ {
					node := r.nodes[(i+attempt)%len(r.nodes)]
					c := clients[node]
					if c == nil {
						var err error
						if c, err = r.p.System.NewClient(node, r.cluster.ClientAddr(node)); err != nil {
							last = err.Error()
							time.Sleep(50 * time.Millisecond)
							continue
						}
						clients[node] = c
					}
					inv := r.hw.Record(Op{Process: proc, Type: Invoke, F: FRead, Key: keys[i], Node: node})
					done := r.invoke(rctx, c, inv)
					r.count(done.Type)
					if done.Type == OK {
						ok = true
						break
					}
					last = done.Error
					if done.Type == Info {
						proc = Process(r.maxProc.Add(1))
					}
					select {
					case <-rctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				}
				if !ok {
					mu.Lock()
					failed[keys[i]] = last
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err() // interrupted: not a finding about the system
	}
	res := Result{Checker: RecoveryChecker, Validity: Valid,
		Summary: fmt.Sprintf("all %d keys read after healing, within %s", len(keys), time.Since(t0).Round(time.Millisecond))}
	if len(failed) > 0 {
		bad := make([]string, 0, len(failed))
		for k := range failed {
			bad = append(bad, k)
		}
		sort.Strings(bad)
		res.Validity = Invalid
		res.Summary = fmt.Sprintf("%d of %d keys could not be read within %s after every fault was healed", len(bad), len(keys), limit)
		now := int64(r.hw.Since())
		for _, k := range bad {
			why := failed[k]
			if why == "" {
				why = "no answer"
			}
			res.Anomalies = append(res.Anomalies, Anomaly{Checker: RecoveryChecker, Key: k, Time: now,
				Explanation: fmt.Sprintf("the cluster did not serve a read of %s within %s after every fault was healed (last error: %s)", k, limit, why)})
		}
	}
	r.extra = append(r.extra, res)
	return nil
}

// collectDigests lets the system converge if it needs a pass (quorum read
// repair), then samples every node's digest until they show convergence or
// the recovery limit passes; the convergence checker judges the last sample.
func (r *run) collectDigests(ctx context.Context) error {
	var errs []error
	if cv, ok := r.p.System.(Converger); ok {
		// The pass and the sampling have a bound each: a pass that hangs
		// must still leave time to see what the nodes hold.
		cctx, cancel := context.WithTimeout(ctx, r.t.RecoveryLimit.D())
		defer cancel()
		addrs := make([]string, len(r.nodes))
		for i, n := range r.nodes {
			addrs[i] = r.cluster.ClientAddr(n)
		}
		r.genMu.Lock()
		var keys []string
		if r.gen != nil {
			keys = append(keys, r.gen.Keys()...)
		}
		r.genMu.Unlock()
		if err := cv.Converge(cctx, addrs, keys); err != nil {
			errs = append(errs, fmt.Errorf("converge: %w", err))
			r.log.Warn("converge", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.t.RecoveryLimit.D())
	defer cancel()
	converged := r.p.Converged
	if converged == nil {
		converged = digestsAgree
	}
	// The limit ends the sampling between samples, never inside one: a
	// sample taken with an expired context would show only deadline errors
	// and hide the divergence the earlier samples saw.
	for {
		d := r.sampleDigests(ctx)
		if ctx.Err() != nil && r.digests != nil {
			break // cut short by the limit: keep the last whole sample
		}
		r.digests = d
		if converged(d) {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(errs...)
		case <-time.After(250 * time.Millisecond):
		}
	}
	return errors.Join(errs...)
}

func (r *run) sampleDigests(ctx context.Context) []Digest {
	out := make([]Digest, len(r.nodes))
	var wg sync.WaitGroup
	for i, n := range r.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			d, err := r.p.System.Digest(dctx, r.cluster.ClientAddr(n))
			d.Node = n
			if err != nil {
				d.Error = err.Error()
			}
			out[i] = d
		}()
	}
	wg.Wait()
	return out
}

func digestsAgree(ds []Digest) bool {
	for _, d := range ds {
		if d.Error != "" || d.Digest != ds[0].Digest {
			return false
		}
	}
	return len(ds) > 0
}

// teardown collects logs and closes the cluster with a context of its own:
// it must also run when ctx was cancelled by Ctrl-C.
func (r *run) teardown(ctx context.Context) {
	if r.cluster == nil {
		return
	}
	r.setPhase(PhaseTeardown)
	t0 := time.Now()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownLimit)
	defer cancel()
	var errs []error
	if err := r.cluster.CollectLogs(tctx, filepath.Join(r.dir, NodesDir)); err != nil {
		errs = append(errs, fmt.Errorf("collect logs: %w", err))
	}
	if err := r.cluster.Close(tctx); err != nil {
		errs = append(errs, fmt.Errorf("close cluster: %w", err))
	}
	err := errors.Join(errs...)
	if err != nil {
		r.log.Error("teardown", "err", err)
	}
	r.addPhase(PhaseTeardown, t0, err)
}

// check runs the workload's checkers on the history (see Check).
func (r *run) check(ctx context.Context) {
	in := CheckInput{History: r.hw.History(), Digests: r.digests, Dir: r.dir}
	r.res.Checkers = append(Check(ctx, r.p.Workload.Checkers(), in, r.t.CheckTimeout.D(), r.log), r.extra...)
}

// Check runs checkers one after another, each bounded by timeout. A checker
// that panics or does not return in time yields unknown, never valid.
func Check(ctx context.Context, checkers []Checker, in CheckInput, timeout time.Duration, log Logger) []Result {
	out := make([]Result, 0, len(checkers))
	for _, c := range checkers {
		out = append(out, checkOne(ctx, c, in, timeout, log))
	}
	return out
}

func checkOne(ctx context.Context, c Checker, in CheckInput, timeout time.Duration, log Logger) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resc := make(chan Result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				if log != nil {
					log.Error("checker panic", "checker", c.Name(), "panic", v, "stack", string(debug.Stack()))
				}
				resc <- Result{Checker: c.Name(), Validity: Unknown, Summary: fmt.Sprintf("checker panicked: %v", v)}
			}
		}()
		resc <- c.Check(ctx, in)
	}()
	// Grace beyond the deadline for a checker to notice it; after that it
	// is abandoned and its verdict is unknown.
	grace := time.NewTimer(timeout + max(100*time.Millisecond, min(5*time.Second, timeout/4)))
	defer grace.Stop()
	select {
	case res := <-resc:
		if res.Checker == "" {
			res.Checker = c.Name()
		}
		switch res.Validity {
		case Valid, Invalid, Unknown:
		default:
			res.Summary = strings.TrimSpace(fmt.Sprintf("%s (checker gave validity %q)", res.Summary, res.Validity))
			res.Validity = Unknown
		}
		return res
	case <-grace.C:
		return Result{Checker: c.Name(), Validity: Unknown, Summary: fmt.Sprintf("did not finish within the check timeout (%s)", timeout)}
	}
}

// Verdict merges the checker results. A run with no results is unknown.
func Verdict(results []Result) Validity {
	if len(results) == 0 {
		return Unknown
	}
	vs := make([]Validity, len(results))
	for i, c := range results {
		vs[i] = c.Validity
	}
	return Merge(vs...)
}

// FirstViolation is the earliest time of an anomaly of an invalid result.
func FirstViolation(results []Result) *int64 {
	var first *int64
	for _, c := range results {
		if c.Validity != Invalid {
			continue
		}
		for _, a := range c.Anomalies {
			if first == nil || a.Time < *first {
				t := a.Time
				first = &t
			}
		}
	}
	return first
}

func (r *run) finish() {
	zero := r.mainT0
	if zero.IsZero() {
		zero = r.start
	}
	for i := range r.res.Phases {
		r.res.Phases[i].Start = int64(r.phaseT0[i].Sub(zero))
	}
	r.res.Digests = r.digests
	r.res.Duration = Duration(time.Since(r.start))
	for _, op := range r.hw.History() {
		if !op.IsNemesis() && op.Type != Invoke {
			r.res.Ops++
		}
	}
	r.res.Verdict = Verdict(r.res.Checkers)
	r.res.FirstViolation = FirstViolation(r.res.Checkers)
	if r.runErr != nil {
		r.res.Error = r.runErr.Error()
		if r.res.Verdict == Valid {
			r.res.Verdict = Unknown // a run that did not happen proves nothing
		}
	}
	if r.res.Interrupted && r.res.Verdict == Valid {
		r.res.Verdict = Unknown // no recovery, no final reads: not a pass
	}
}

func (r *run) write() error {
	var errs []error
	if err := writeJSON(filepath.Join(r.dir, ResultsFile), r.res); err != nil {
		errs = append(errs, err)
	}
	if err := writeJSON(filepath.Join(r.dir, DigestsFile), r.digests); err != nil {
		errs = append(errs, err)
	}
	if err := pointLatest(r.t.Out, r.dir); err != nil {
		r.log.Warn("latest link", "err", err)
	}
	return errors.Join(errs...)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// pointLatest makes <out>/latest a relative symlink to dir, replacing it
// atomically (parallel runs race; the last one wins).
func pointLatest(out, dir string) error {
	rel, err := filepath.Rel(out, dir)
	if err != nil {
		return err
	}
	link := filepath.Join(out, "latest")
	tmp := fmt.Sprintf("%s.tmp-%d-%d", link, os.Getpid(), time.Now().UnixNano())
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
