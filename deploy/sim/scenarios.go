package simdeploy

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/sim"
)

// KindVoteGranted is the kind of message split-vote aims at: a voter's yes
// to a candidate. A system's MessageClassifier that names its grants so
// (kvnode's does) gets the crashed voters; one that does not gets the slow
// network and the crashed leader only.
const KindVoteGranted = "vote-granted"

// The simulation's scenarios: a process-level fault and, during it, rules
// aimed at the messages or durable writes where its races live.
const (
	// SplitVote holds an election on a slow network with every node a
	// voter: it delays every link by 0.08–0.2 timescales (as slow-election
	// does), crashes the leader and restarts it at once (a supervisor's
	// restart), and crashes the first two voters that grant a vote right
	// after they sent it, restarting them at once too. Timeouts run out
	// within a few message delays of each other on the slow network, so
	// candidacies of one term overlap, and a candidacy still under way
	// asks a restarted voter again: a voter that forgot its vote grants
	// twice and two leaders share a term. Heal removes the delay.
	SplitVote = "split-vote"
)

// Scenarios are the simulation's scenario packages by name.
func Scenarios() map[string]func() harness.Nemesis {
	return map[string]func() harness.Nemesis{
		SplitVote: func() harness.Nemesis {
			return &scenario{name: SplitVote, hold: [2]float64{1.5, 3}, start: splitVote}
		},
		CrashStorm: newCrashStorm,
	}
}

// splitVote is SplitVote's start.
func splitVote(ctx context.Context, c harness.Cluster, w *sim.World, rng *rand.Rand, unit time.Duration, restart func(string)) (string, error) {
	crashAfterKind(w, KindVoteGranted, restart)
	crashAfterKind(w, KindVoteGranted, restart)
	d := span(rng, unit, 0.08, 0.2)
	j := time.Duration(rng.Int63n(int64(d/4) + 1)).Round(time.Millisecond)
	desc := fmt.Sprintf("latency %s ±%s on every link, crash the first two voters right after they grant a vote", d, j)
	if err := c.Netem(ctx, harness.LinkFault{Latency: d, Jitter: j}); err != nil {
		return desc, err
	}
	lf, ok := c.(harness.LeaderFinder)
	if !ok {
		return desc + ", no leader to crash (the cluster cannot tell its leader)", nil
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	l, err := lf.Leader(lctx)
	cancel()
	if err != nil || l == "" {
		return desc + ", no leader to crash", nil
	}
	w.Crash(l)
	w.Go(func() { restart(l) })
	return desc + ", crash leader " + l + " and restart it", nil
}

func span(rng *rand.Rand, unit time.Duration, lo, hi float64) time.Duration {
	return time.Duration((lo + rng.Float64()*(hi-lo)) * float64(unit)).Round(time.Millisecond)
}

// scenario is a package of the simulation that crashes nodes through the
// world (and restarts them moments later) besides what it does to the
// network.
type scenario struct {
	name  string
	hold  [2]float64 // timescales the fault holds, at least and at most
	start func(ctx context.Context, c harness.Cluster, w *sim.World, rng *rand.Rand, unit time.Duration, restart func(string)) (string, error)
	unit  time.Duration
	needs []harness.Fault // nil: what split-vote needs

	mu      sync.Mutex
	crashed []string // crashed by the world, restart owed
}

var (
	_ harness.Paced      = (*scenario)(nil)
	_ harness.Timescaled = (*scenario)(nil)
)

func (s *scenario) Name() string { return s.name }

func (s *scenario) Requires() []harness.Fault {
	if s.needs != nil {
		return s.needs
	}
	return []harness.Fault{harness.FaultKill, harness.FaultLatency, harness.FaultLeader, FaultMessage}
}

// SetTimescale takes the system's timescale as the unit (at least 1 s).
func (s *scenario) SetTimescale(d time.Duration) { s.unit = max(d, time.Second) }

func (s *scenario) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	u := max(s.unit, time.Second)
	return span(rng, u, s.hold[0], s.hold[1]), span(rng, u, 0.3, 1.5)
}

func (s *scenario) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	w := World(ctx)
	if w == nil {
		return harness.FaultEvent{}, fmt.Errorf("%s: %w (the sim deployment's only)", s.name, harness.ErrUnsupported)
	}
	delay := time.Duration(rng.Int63n(int64(restartWithin)))
	restart := func(node string) {
		s.mu.Lock()
		s.crashed = append(s.crashed, node)
		s.mu.Unlock()
		_ = c.Kill(ctx, node) // the world crashed it; this ends its goroutines
		time.Sleep(delay)
		if err := c.Start(context.WithoutCancel(ctx), node); err == nil {
			s.mu.Lock()
			if i := slices.Index(s.crashed, node); i >= 0 {
				s.crashed = slices.Delete(s.crashed, i, i+1)
			}
			s.mu.Unlock()
		}
	}
	desc, err := s.start(ctx, c, w, rng, max(s.unit, time.Second), restart)
	return harness.FaultEvent{Description: s.name + ": " + desc, Nodes: c.Nodes()}, err
}

// Heal heals the network, disarms the rules and restarts what they left
// down.
func (s *scenario) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	if w := World(ctx); w != nil {
		w.ClearRules()
		w.ClearDiskRules()
	}
	errs := []error{c.Heal(ctx)}
	s.mu.Lock()
	down := s.crashed
	s.crashed = nil
	s.mu.Unlock()
	for _, n := range down {
		errs = append(errs, c.Start(ctx, n))
	}
	return harness.FaultEvent{Description: s.name + ": heal the network", Nodes: down}, errors.Join(errs...)
}

// crashAfterKind arms a rule: crash the next node that sends a message of
// kind, right after it, then restart it.
func crashAfterKind(w *sim.World, kind string, restart func(string)) {
	w.AddRule(&sim.Rule{Kind: kind, Action: sim.CrashSender, After: func(s sim.Segment) { restart(s.From) }})
}

// CrashStorm is the simulation's storm of aimed crashes: while it holds
// (1–3 timescales), every 50–250 ms it arms a crash right after the next
// durable write of a kind drawn as crash-after-sync draws (rare kinds as
// often as the log), each crashed node restarted within 50 ms. Power
// losses then land between a store's durable steps many times a run: a
// snapshot saved and its log not yet compacted, a vote persisted and not
// yet sent.
const CrashStorm = "crash-storm"

type crashStorm struct {
	scenario
	stop chan struct{}
	done chan struct{}
}

func newCrashStorm() harness.Nemesis {
	s := &crashStorm{}
	s.scenario = scenario{name: CrashStorm, hold: [2]float64{1, 3}, needs: []harness.Fault{harness.FaultKill, FaultMessage}}
	s.scenario.start = s.begin
	return s
}

func (s *crashStorm) begin(ctx context.Context, c harness.Cluster, w *sim.World, rng *rand.Rand, unit time.Duration, restart func(string)) (string, error) {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	seed := rng.Int63()
	go func() {
		defer close(s.done)
		r := rand.New(rand.NewSource(seed))
		for {
			t := time.NewTimer(50*time.Millisecond + time.Duration(r.Int63n(int64(200*time.Millisecond))))
			select {
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
			}
			if kind := pickKind(w.DurableCounts(), r); kind != "" {
				w.ClearDiskRules() // one armed at a time: an unfired one is replaced
				w.AddDiskRule(&sim.DiskRule{Kind: kind, After: restart})
			}
		}
	}()
	return "every 50–250 ms, crash the next node that makes a file of a drawn kind durable, right after, and restart it", nil
}

// Heal ends the storm, then heals as every scenario does.
func (s *crashStorm) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	return s.scenario.Heal(ctx, c)
}
