package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// SlowElection holds an election on a slow network: it delays every link by
// 0.08–0.2 election timeouts, then kills the leader. Every follower's timer
// then runs out within a few message delays of the others', and candidacies
// in one term overlap: a correct voter grants one of them and the split
// vote is retried, a voter that grants twice elects two leaders of one
// term. On a fast network the first candidate wins within a millisecond
// and contended elections are rare (timeouts drawn over [T, 2T) see to it);
// a WAN, a loaded host or a slow disk makes them the rule. Heal removes the
// delay and restarts the leader. Where the deployment cannot delay links
// (a kernel without netem), it kills the leader on the network as it is,
// and says so, as pause-leader-brief pauses without its cut.
type SlowElection struct {
	scaled
	killed victims
}

func (p *SlowElection) Name() string { return "slow-election" }
func (p *SlowElection) Requires() []harness.Fault {
	return []harness.Fault{harness.FaultKill, harness.FaultLeader}
}

// Pace: long enough for an election or two at the slowed pace (each round
// is an election timeout plus four message delays: pre-vote and vote).
func (p *SlowElection) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return p.span(rng, 1.5, 3), p.span(rng, 0.3, 1.5)
}

func (p *SlowElection) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	d := p.span(rng, 0.08, 0.2)
	j := time.Duration(rng.Int63n(int64(d/4) + 1)).Round(time.Millisecond)
	ev := harness.FaultEvent{Nodes: sorted(nodes), Description: fmt.Sprintf("slow-election: latency %s ±%s on every link", d, j)}
	if err := c.Netem(ctx, harness.LinkFault{Latency: d, Jitter: j}); errors.Is(err, harness.ErrUnsupported) {
		ev.Description = fmt.Sprintf("slow-election: no delay (%v)", err)
	} else if err != nil {
		return ev, fmt.Errorf("%s: %w", ev.Description, err)
	}
	l, err := leader(ctx, c)
	if err != nil {
		ev.Description += fmt.Sprintf(", no leader to kill (%v)", err)
		return ev, nil // the slow network alone still slows the next election
	}
	ev.Description += fmt.Sprintf(", then kill leader %s", l)
	return ev, p.killed.on(ctx, l, "kill", c.Kill)
}

// Heal removes the delay, then restarts the killed leader (a restart that
// fails is tried again by the next Heal).
func (p *SlowElection) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	ev := harness.FaultEvent{Description: "heal the network", Nodes: sorted(c.Nodes())}
	herr := c.Heal(ctx)
	if herr != nil {
		herr = fmt.Errorf("slow-election: heal: %w", herr)
	}
	kev, kerr := p.killed.heal(ctx, "restart", c.Start)
	if len(kev.Nodes) > 0 {
		ev.Description += "; " + kev.Description
	}
	return ev, errors.Join(herr, kerr)
}
