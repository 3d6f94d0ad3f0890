// The fault schedule of the main phase and the heal after it.

package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"time"
)

// nemesis runs the fault schedule until mctx is done: every interval it
// starts a fault of a package drawn with the nemesis rng, and heals it one
// interval later (a Paced package sets both lengths itself; a Steered one
// is first shown what the run did so far). Faults still active at the end
// are healed by the heal phase. Fault calls use ctx, so a start under way
// at the time limit finishes and is recorded.
func (r *run) nemesis(ctx, mctx context.Context) {
	if len(r.p.Nemeses) == 0 {
		return
	}
	defer r.writeSchedule()
	rng := rand.New(rand.NewSource(seedFor(r.t.Seed, streamNemesis)))
	obs := newObserver(r)
	for _, n := range r.p.Nemeses {
		if ts, ok := n.(Timescaled); ok {
			ts.SetTimescale(r.t.Timescale.D())
		}
	}
	quiet := r.t.NemesisInterval.D()
	if _, ok := r.p.Nemeses[0].(Paced); ok {
		// Aimed schedules start soon: 20 s should hold many faults.
		quiet = max(pacedWarmup, r.t.Timescale.D())
	}
	sleep := func(d time.Duration) bool {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-mctx.Done():
			return false
		case <-tm.C:
			return true
		}
	}
	for {
		if !sleep(quiet) {
			return
		}
		n := r.p.Nemeses[rng.Intn(len(r.p.Nemeses))]
		r.steer(ctx, n, obs, rng)
		r.startFault(ctx, n, rng)
		hold, q := r.pace(n, rng)
		quiet = q
		if !sleep(hold) {
			return
		}
		r.healFault(ctx, n)
	}
}

func (r *run) startFault(ctx context.Context, n Nemesis, rng *rand.Rand) {
	ctx, cancel := context.WithTimeout(ctx, nemesisLimit)
	defer cancel()
	inv := r.hw.Record(Op{Process: NemesisProcess, Type: Invoke, F: "start-" + n.Name(), Fault: &FaultMark{Package: n.Name()}})
	ev, err := n.Start(ctx, r.faultCluster(), rng)
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
	inv := r.hw.Record(Op{Process: NemesisProcess, Type: Invoke, F: "stop-" + n.Name(), Fault: &FaultMark{Package: n.Name(), Stop: true}})
	ev, err := n.Heal(ctx, r.faultCluster())
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
		_, err := n.Heal(hctx, r.faultCluster())
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
