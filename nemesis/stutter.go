package nemesis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand"
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
	scaled
	stop context.CancelFunc // ends the freezes
	done chan struct{}      // closed once the last freeze is undone
	// Written by the loop only, read by Heal once done is closed.
	frozen []string // every node frozen so far in this fault
	stuck  string   // a node whose resume failed, for Heal to retry
	err    error    // the failure that ended the freezes early
}

func (s *Stutter) Name() string              { return "stutter" }
func (s *Stutter) Requires() []harness.Fault { return []harness.Fault{harness.FaultPause} }

// Pace: a few seconds of stalls, then a short quiet.
func (s *Stutter) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return s.span(rng, 3, 5), s.span(rng, 0.5, 1)
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
	// Start's ctx ends when Start returns; the freezes outlive it until
	// Heal. The calls to the cluster get a context Heal does not cancel,
	// so the last resume still goes through.
	calls := context.WithoutCancel(ctx)
	running, stop := context.WithCancel(calls)
	s.stop, s.done, s.frozen, s.stuck, s.err = stop, make(chan struct{}), nil, "", nil
	go s.loop(running, calls, c, nodes, rand.New(rand.NewSource(seed)))
	ev := harness.FaultEvent{
		Description: fmt.Sprintf("stutter: freeze one random node after another for %v–%v each, %v–%v apart",
			stutterFreezeMin, stutterFreezeMax, stutterGapMin, stutterGapMax),
		Nodes: sorted(nodes),
	}
	return ev, nil
}

// loop freezes nodes until running ends or a pause or resume fails.
func (s *Stutter) loop(running, calls context.Context, c harness.Cluster, nodes []string, rng *rand.Rand) {
	defer close(s.done)
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int63n(int64(hi-lo)/int64(time.Millisecond)+1))*time.Millisecond
	}
	call := func(verb, node string, act func(context.Context, string) error) error {
		cctx, cancel := context.WithTimeout(calls, leaderTimeout)
		defer cancel()
		if err := act(cctx, node); err != nil {
			return fmt.Errorf("%s %s: %w", verb, node, err)
		}
		return nil
	}
	for running.Err() == nil {
		node := nodes[rng.Intn(len(nodes))]
		freeze, gap := between(stutterFreezeMin, stutterFreezeMax), between(stutterGapMin, stutterGapMax)
		if !contains(s.frozen, node) {
			s.frozen = append(s.frozen, node)
		}
		perr := call("pause", node, c.Pause)
		sleep(running, freeze)
		// Resume even if the pause reported an error: it may have half-happened.
		rerr := call("resume", node, c.Resume)
		if err := cmp.Or(perr, rerr); err != nil {
			s.err = err
			if rerr != nil {
				s.stuck = node
			}
			return
		}
		sleep(running, gap)
	}
}

// Heal stops the freezes; the loop resumed each node after its freeze, so
// only a node whose resume failed is resumed again here.
func (s *Stutter) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	if s.stop == nil {
		return harness.FaultEvent{Description: "resume nothing"}, nil
	}
	s.stop()
	<-s.done
	s.stop, s.done = nil, nil
	frozen := sorted(s.frozen)
	ev := harness.FaultEvent{Description: fmt.Sprintf("stutter over (froze %s)", set(frozen)), Nodes: frozen}
	if s.err != nil {
		// The freezes stopped at the first failure; Heal fails only if a
		// node is left frozen, so say what went wrong in the event.
		ev.Description += fmt.Sprintf("; stopped early: %v", s.err)
	}
	if s.stuck != "" {
		if err := c.Resume(ctx, s.stuck); err != nil {
			return ev, fmt.Errorf("resume %s: %w", s.stuck, err)
		}
		s.stuck = ""
	}
	return ev, nil
}
