package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Kill SIGKILLs one node, the current leader or a random one, or (one time
// in three, seeded) a random majority of the nodes, up to all of them, at
// once; Heal restarts every node it killed (from the same data directory).
//
// One node at a time never loses a write that other replicas hold: losing
// acknowledged writes from unsynced buffers (ack-before-fsync) needs most
// replicas of a key to die within one flush window, which only a
// simultaneous kill makes likely.
type Kill struct {
	scaled // for the packages built on it (kill-leader, power-loss)
	victims
}

func (k *Kill) Name() string              { return "kill" }
func (k *Kill) Requires() []harness.Fault { return []harness.Fault{harness.FaultKill} }

// killManyOneIn is how often (1 in N starts) Kill takes a majority or more
// down at once.
const killManyOneIn = 3

func (k *Kill) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	if rng.Intn(killManyOneIn) == 0 && len(c.Nodes()) > 1 {
		return k.startMany(ctx, c, rng)
	}
	return k.start(ctx, c, rng, "kill", c.Kill, false)
}

// startMany kills between ⌊n/2⌋+1 and n random nodes back to back, without
// waiting between them.
func (k *Kill) startMany(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	majority := len(nodes)/2 + 1
	count := majority + rng.Intn(len(nodes)-majority+1)
	perm := rng.Perm(len(nodes))
	var picked []string
	for _, j := range perm[:count] {
		picked = append(picked, nodes[j])
	}
	what := "majority"
	if count == len(nodes) {
		what = "all"
	}
	ev := harness.FaultEvent{Description: fmt.Sprintf("kill %s %s", what, set(picked)), Nodes: sorted(picked)}
	return ev, k.killAtOnce(ctx, c, picked)
}

// killAtOnce kills nodes concurrently: one after another, a slow kill (a
// loaded machine) would leave the last ones time to flush what the first
// lost. Nodes are remembered even if their kill fails, as in start.
func (v *victims) killAtOnce(ctx context.Context, c harness.Cluster, nodes []string) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		if !contains(v.nodes, n) {
			v.nodes = append(v.nodes, n)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Kill(ctx, n); err != nil {
				errs[i] = fmt.Errorf("kill %s: %w", n, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (k *Kill) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	return k.heal(ctx, "restart", c.Start)
}

// PowerLoss SIGKILLs every node at once, as a power cut does, and
// restarts them all on Heal. What a node acknowledged but had not yet made
// durable is gone from every replica together, which a crash of a minority
// (the survivors still hold it) or of nodes one after another (the last
// ones have time to flush) can never show. Jepsen's kill of :all.
type PowerLoss struct{ Kill }

func (p *PowerLoss) Name() string { return "power-loss" }

// Pace: the outage is short; the quiet after it leaves the cluster time to
// restart, elect and take writes again before the next fault.
func (p *PowerLoss) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return p.span(rng, 0.3, 1.5), p.span(rng, 1, 2)
}

func (p *PowerLoss) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	ev := harness.FaultEvent{Description: "power loss: kill all " + set(nodes) + " at once", Nodes: sorted(nodes)}
	return ev, p.killAtOnce(ctx, c, nodes)
}

// Pause SIGSTOPs one node, the current leader or a random one; Heal resumes
// every node it paused. As "pause-leader" it always aims at the leader
// (a random node only when none is known): stale reads by a paused leader,
// as in etcd #20418, need the leader paused far more often than one start
// in two.
type Pause struct {
	victims
	LeaderOnly bool
}

func (p *Pause) Name() string {
	if p.LeaderOnly {
		return "pause-leader"
	}
	return "pause"
}
func (p *Pause) Requires() []harness.Fault { return []harness.Fault{harness.FaultPause} }

func (p *Pause) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	return p.start(ctx, c, rng, "pause", c.Pause, p.LeaderOnly)
}

func (p *Pause) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	return p.heal(ctx, "resume", c.Resume)
}

// victims is what kill and pause share: pick a node, act on it, remember it.
type victims struct {
	nodes []string
}

// start acts on the leader (always if leaderOnly, else one time in two) or
// a random node.
func (v *victims) start(ctx context.Context, c harness.Cluster, rng *rand.Rand, verb string, act func(context.Context, string) error, leaderOnly bool) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return harness.FaultEvent{}, errors.New(verb + ": the cluster has no nodes")
	}
	// Both draws always happen, so the schedule does not depend on whether
	// a leader was known.
	wantLeader := rng.Intn(2) == 0 || leaderOnly
	node := nodes[rng.Intn(len(nodes))]
	desc := fmt.Sprintf("%s %s", verb, node)
	if wantLeader {
		l, err := leader(ctx, c)
		switch {
		case err == nil:
			node, desc = l, fmt.Sprintf("%s leader %s", verb, l)
		case errors.Is(err, harness.ErrUnsupported):
			// A leaderless system: the random node is all there is to aim at.
		default:
			desc = fmt.Sprintf("%s %s (no leader known: %v)", verb, node, err)
		}
	}
	ev := harness.FaultEvent{Description: desc, Nodes: []string{node}}
	return ev, v.on(ctx, node, verb, act)
}

// on acts on node and remembers it for the heal, even if act fails: it may
// have half-happened, and healing a node that is fine is harmless.
func (v *victims) on(ctx context.Context, node, verb string, act func(context.Context, string) error) error {
	if !contains(v.nodes, node) {
		v.nodes = append(v.nodes, node)
	}
	if err := act(ctx, node); err != nil {
		return fmt.Errorf("%s %s: %w", verb, node, err)
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (v *victims) heal(ctx context.Context, verb string, act func(context.Context, string) error) (harness.FaultEvent, error) {
	ev := harness.FaultEvent{Description: verb + " " + set(v.nodes), Nodes: sorted(v.nodes)}
	if len(v.nodes) == 0 {
		ev.Description = verb + " nothing"
	}
	var errs []error
	var left []string
	for _, n := range sorted(v.nodes) {
		if err := act(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", verb, n, err))
			left = append(left, n)
		}
	}
	v.nodes = left
	return ev, errors.Join(errs...)
}

func leader(ctx context.Context, c harness.Cluster) (string, error) {
	lf, ok := c.(harness.LeaderFinder)
	if !ok {
		return "", errors.New("the cluster cannot tell its leader")
	}
	ctx, cancel := context.WithTimeout(ctx, leaderTimeout)
	defer cancel()
	l, err := lf.Leader(ctx)
	if err == nil && l == "" {
		err = errors.New("no leader")
	}
	return l, err
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// Clock offsets one or more nodes' clocks by ±(0.1..10) timescales (100 ms
// to 10 s on a system that elects within a second), each its own; Heal
// sets them back to true time. Leases and lease-based reads are timed on
// the election timescale, so the skews that matter grow with it.
type Clock struct {
	scaled
	skewed []string
}

func (k *Clock) Name() string              { return "clock" }
func (k *Clock) Requires() []harness.Fault { return []harness.Fault{harness.FaultClock} }

// Skews, in units.
const (
	minSkew = 0.1
	maxSkew = 10
)

func (k *Clock) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return harness.FaultEvent{}, errors.New("clock: the cluster has no nodes")
	}
	count := 1 + rng.Intn(len(nodes))
	perm := rng.Perm(len(nodes))
	offsets := make(map[string]time.Duration, count)
	for _, j := range perm[:count] {
		lo, hi := k.times(minSkew), k.times(maxSkew)
		d := lo + time.Duration(rng.Int63n(int64(hi-lo)/int64(time.Millisecond)+1))*time.Millisecond
		if rng.Intn(2) == 0 {
			d = -d
		}
		offsets[nodes[j]] = d
	}
	var picked []string
	for n := range offsets {
		picked = append(picked, n)
	}
	picked = sorted(picked)
	parts := make([]string, len(picked))
	for i, n := range picked {
		parts[i] = fmt.Sprintf("%s %+.3fs", n, offsets[n].Seconds())
	}
	desc := "clock offsets " + strings.Join(parts, ", ")
	ev := harness.FaultEvent{Description: desc, Nodes: picked}
	var errs []error
	for _, n := range picked {
		if !contains(k.skewed, n) {
			k.skewed = append(k.skewed, n)
		}
		if err := c.SetClock(ctx, n, offsets[n]); err != nil {
			errs = append(errs, fmt.Errorf("clock %s: %w", n, err))
		}
	}
	return ev, errors.Join(errs...)
}

func (k *Clock) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	ev := harness.FaultEvent{Description: "reset clocks " + set(k.skewed), Nodes: sorted(k.skewed)}
	if len(k.skewed) == 0 {
		ev.Description = "reset clocks: none skewed"
	}
	var errs []error
	var left []string
	for _, n := range sorted(k.skewed) {
		if err := c.SetClock(ctx, n, 0); err != nil {
			errs = append(errs, fmt.Errorf("clock %s: reset: %w", n, err))
			left = append(left, n)
		}
	}
	k.skewed = left
	return ev, errors.Join(errs...)
}
