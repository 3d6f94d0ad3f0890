package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Stutter freezes one random node after another, each for 0.1–0.6 s with
// 0.1–0.4 s between, for the whole hold: the stalls of a garbage collector
// or a starved VM. Each freeze is shorter than a client's op timeout, so the
// frozen node's clients wait instead of giving up, and the node wakes with
// their requests and its peers' messages queued together. It then serves
// requests before it has applied what it missed, racing its own stale
// replica against the rest of the cluster. A long pause shows none of that:
// its clients time out, and it catches up before new work reaches it.
//
// The freezes run in the background between Start and Heal; their lengths
// come from one seeded draw, so a seed gives the same sequence.
type Stutter struct {
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	frozen []string // every node frozen so far in this fault
	stuck  string   // a node whose resume failed, for Heal to retry
	errs   []error
}

func (s *Stutter) Name() string              { return "stutter" }
func (s *Stutter) Requires() []harness.Fault { return []harness.Fault{harness.FaultPause} }

// Pace: a few seconds of stalls, then a short quiet.
func (s *Stutter) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return span(rng, 3, 5), span(rng, 0.5, 1)
}

const (
	stutterFreezeMin, stutterFreezeMax = 100 * time.Millisecond, 600 * time.Millisecond
	stutterGapMin, stutterGapMax       = 100 * time.Millisecond, 400 * time.Millisecond
)

func (s *Stutter) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	seed := rng.Int63() // one draw whatever happens
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return harness.FaultEvent{}, errors.New("stutter: the cluster has no nodes")
	}
	if s.stop != nil {
		return harness.FaultEvent{}, errors.New("stutter: already running")
	}
	s.stop, s.done, s.frozen, s.errs = make(chan struct{}), make(chan struct{}), nil, nil
	// Start's ctx ends when Start returns; the freezes outlive it until Heal.
	go s.loop(context.WithoutCancel(ctx), c, nodes, rand.New(rand.NewSource(seed)))
	ev := harness.FaultEvent{
		Description: fmt.Sprintf("stutter: freeze one random node after another for %v–%v each, %v–%v apart",
			stutterFreezeMin, stutterFreezeMax, stutterGapMin, stutterGapMax),
		Nodes: sorted(nodes),
	}
	return ev, nil
}

func (s *Stutter) loop(ctx context.Context, c harness.Cluster, nodes []string, rng *rand.Rand) {
	defer close(s.done)
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int63n(int64(hi-lo)/int64(time.Millisecond)+1))*time.Millisecond
	}
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.stop:
			return false
		case <-t.C:
			return true
		}
	}
	call := func(verb, node string, act func(context.Context, string) error) bool {
		cctx, cancel := context.WithTimeout(ctx, leaderTimeout)
		defer cancel()
		if err := act(cctx, node); err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, fmt.Errorf("%s %s: %w", verb, node, err))
			s.mu.Unlock()
			return false
		}
		return true
	}
	for {
		node := nodes[rng.Intn(len(nodes))]
		freeze, gap := between(stutterFreezeMin, stutterFreezeMax), between(stutterGapMin, stutterGapMax)
		s.mu.Lock()
		if !contains(s.frozen, node) {
			s.frozen = append(s.frozen, node)
		}
		s.mu.Unlock()
		paused := call("pause", node, c.Pause)
		stopped := !wait(freeze)
		// Resume even if the pause reported an error: it may have half-happened.
		if !call("resume", node, c.Resume) {
			s.mu.Lock()
			s.stuck = node
			s.mu.Unlock()
			return
		}
		if !paused || stopped || !wait(gap) {
			return
		}
	}
}

// Heal stops the freezes; the loop resumed each node after its freeze, so
// only a node whose resume failed is resumed again here.
func (s *Stutter) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	if s.stop == nil {
		return harness.FaultEvent{Description: "resume nothing"}, nil
	}
	close(s.stop)
	<-s.done
	s.stop, s.done = nil, nil
	s.mu.Lock()
	frozen, stuck, errs := sorted(s.frozen), s.stuck, s.errs
	s.mu.Unlock()
	ev := harness.FaultEvent{Description: fmt.Sprintf("stutter over (froze %s)", set(frozen)), Nodes: frozen}
	if len(errs) > 0 {
		// The freezes stopped at the first failure; Heal fails only if a
		// node is left frozen, so say what went wrong in the event.
		ev.Description += fmt.Sprintf("; stopped early: %v", errs[0])
	}
	if stuck != "" {
		if err := c.Resume(ctx, stuck); err != nil {
			return ev, fmt.Errorf("resume %s: %w", stuck, err)
		}
		s.stuck = ""
	}
	return ev, nil
}
