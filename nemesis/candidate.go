package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// StaleCandidate asks whether a node whose log is behind can win an
// election (Raft's election restriction, §5.4.1). It freezes a follower
// (SIGSTOP) while the others commit writes without it, kills the leader,
// and resumes the follower inside a star: it hears every live node, the
// others hear only it. Then only the stale follower can gather a majority:
// a correct system elects nobody until the heal (a vote needs a log at
// least as up to date as the voter's), a faulty one elects it and its
// shorter log overwrites committed entries.
type StaleCandidate struct {
	scaled
	partitioned
	killed victims
}

func (p *StaleCandidate) Name() string { return "stale-candidate" }
func (p *StaleCandidate) Requires() []harness.Fault {
	return []harness.Fault{harness.FaultPartition, harness.FaultKill, harness.FaultPause, harness.FaultLeader}
}

// Pace: the star holds long enough for the follower to time out and stand
// (an election timeout or two after it resumes).
func (p *StaleCandidate) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return p.span(rng, 1.5, 3), p.span(rng, 0.3, 1.5)
}

func (p *StaleCandidate) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	perm := rng.Perm(len(nodes))
	lag := p.span(rng, 0.5, 1)
	l, err := leader(ctx, c)
	if err != nil || len(nodes) < 3 {
		if err == nil {
			err = fmt.Errorf("%d nodes", len(nodes))
		}
		return p.cut(ctx, c, []string{nodes[perm[0]]}, "stale-candidate: isolate", err)
	}
	f := nodes[perm[0]]
	if f == l {
		f = nodes[perm[1]]
	}
	ev := harness.FaultEvent{Nodes: sorted(nodes)}
	if err := c.Pause(ctx, f); err != nil {
		ev.Description = fmt.Sprintf("stale-candidate: pause follower %s", f)
		return ev, errors.Join(fmt.Errorf("pause %s: %w", f, err), c.Resume(ctx, f)) // it may have half-happened
	}
	sleep(ctx, lag) // the others commit without it
	kerr := p.killed.on(ctx, l, "kill", c.Kill)
	var others [][]string // each alone: cut from each other, not from f
	for _, n := range nodes {
		if n != f {
			others = append(others, []string{n})
		}
	}
	perr := c.Partition(ctx, harness.Symmetric(others...))
	p.active = ev.Nodes
	rerr := c.Resume(ctx, f)
	ev.Description = fmt.Sprintf("stale-candidate: pause follower %s for %s while the others commit, kill leader %s, "+
		"resume %s at the centre of a star (the others hear only it)", f, lag, l, f)
	if perr != nil {
		perr = fmt.Errorf("star around %s: %w", f, perr)
	}
	if rerr != nil {
		rerr = fmt.Errorf("resume %s: %w", f, rerr)
	}
	return ev, errors.Join(kerr, perr, rerr)
}

// Heal heals the network, then restarts the killed leader.
func (p *StaleCandidate) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	ev, err := p.partitioned.Heal(ctx, c)
	kev, kerr := p.killed.heal(ctx, "restart", c.Start)
	if len(kev.Nodes) > 0 {
		ev.Description += "; " + kev.Description
	}
	return ev, errors.Join(err, kerr)
}
