package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Aimed packages aim at the protocol rather than at random nodes: they read
// the leader through the cluster (harness.LeaderFinder), hold their fault
// for about an election timeout (harness.Paced) so a 20 s run sees many of
// them, and require a system that reports a leader (harness.FaultLeader).
// Like Jepsen's :primaries and partition-majorities-ring, and Mallory's
// observation that Raft bugs live right around elections. Their durations
// are in units of the system's timescale (scaled: at least a second), so
// holds drawn across [0.3, 4] units cover kvnode's 500 ms and etcd's 1 s
// alike, and stretch for a system that declares slower elections.

// LeaderMinority cuts the leader off together with a minority of the
// followers (for 5 nodes: the leader and one follower against three). The
// old leader keeps a follower to confirm things with, the majority elects a
// new leader and writes; lease and read-confirmation bugs show there.
//
// Where the cluster can kill, the deposed leader then crashes and restarts
// inside its minority before the heal: it comes back with a suffix of
// entries it appended in its term that were never committed, which the new
// leader's log must replace — the restart and log-repair paths a plain heal
// never exercises. (Its companion keeps its own copy of the suffix without
// a restart, so the plain repair is exercised too.)
type LeaderMinority struct {
	scaled
	partitioned
	deposed string  // to crash-restart before the heal
	killed  victims // killed, restart owed (kept if it fails)
}

func (p *LeaderMinority) Name() string { return "leader-minority" }
func (p *LeaderMinority) Requires() []harness.Fault {
	return []harness.Fault{harness.FaultPartition, harness.FaultLeader}
}
func (p *LeaderMinority) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return p.span(rng, 1.5, 4), p.span(rng, 0.3, 1.5)
}

func (p *LeaderMinority) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	perm := rng.Perm(len(nodes))
	l, err := leader(ctx, c)
	if err != nil {
		l = nodes[perm[0]]
	}
	ev, cerr := p.cut(ctx, c, minorityWith(l, nodes, perm), "leader-minority", err)
	if err == nil && c.Supports(harness.FaultKill) {
		p.deposed = l
		ev.Description += fmt.Sprintf("; %s will crash and restart before the heal", l)
	}
	return ev, cerr
}

// Heal crash-restarts the deposed leader if Start said so, then heals. A
// restart that failed is tried again by the next Heal.
func (p *LeaderMinority) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	what := ""
	var kerr error
	if d := p.deposed; d != "" {
		p.deposed = ""
		what = fmt.Sprintf("crash-restart deposed leader %s; ", d)
		kerr = p.killed.on(ctx, d, "kill", c.Kill)
	}
	_, serr := p.killed.heal(ctx, "restart", c.Start)
	ev, err := p.partitioned.Heal(ctx, c)
	ev.Description = what + ev.Description
	return ev, errors.Join(kerr, serr, err)
}

// minorityWith returns the largest minority that contains x, the others
// drawn in perm's order.
func minorityWith(x string, nodes []string, perm []int) []string {
	side := []string{x}
	for _, j := range perm {
		if len(side) >= (len(nodes)-1)/2 {
			break
		}
		if nodes[j] != x {
			side = append(side, nodes[j])
		}
	}
	return side
}

// partitioned is what the partitioning aimed packages share.
type partitioned struct{ active []string }

// cut isolates side from the other nodes; why, if not nil, says the leader
// was unknown and side was drawn at random.
func (p *partitioned) cut(ctx context.Context, c harness.Cluster, side []string, what string, why error) (harness.FaultEvent, error) {
	var rest []string
	for _, n := range c.Nodes() {
		if !contains(side, n) {
			rest = append(rest, n)
		}
	}
	desc := fmt.Sprintf("%s %s | %s", what, set(side), set(rest))
	if why != nil {
		desc += fmt.Sprintf(" (no leader known: %v)", why)
	}
	ev := harness.FaultEvent{Description: desc, Nodes: sorted(c.Nodes())}
	p.active = ev.Nodes
	if err := c.Partition(ctx, harness.Symmetric(side, rest)); err != nil {
		return ev, fmt.Errorf("%s: %w", what, err)
	}
	return ev, nil
}

func (p *partitioned) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	ev := harness.FaultEvent{Description: "heal network", Nodes: p.active}
	if err := c.Heal(ctx); err != nil {
		return ev, fmt.Errorf("heal: %w", err)
	}
	p.active = nil
	return ev, nil
}

// NewLeader forces an election and strikes the winner right after it wins:
// it cuts the leader off with a minority, waits until the majority names a
// new leader, then at once either cuts that one off with a minority too or
// (one time in three) kills it, before it has committed much of its term.
type NewLeader struct {
	scaled
	partitioned
	killed victims
}

// newLeaderWait bounds the wait for the majority's new leader, in units.
const newLeaderWait = 5

func (p *NewLeader) Name() string { return "new-leader" }
func (p *NewLeader) Requires() []harness.Fault {
	return []harness.Fault{harness.FaultPartition, harness.FaultKill, harness.FaultLeader}
}
func (p *NewLeader) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return p.span(rng, 1, 3), p.span(rng, 0.3, 1.5)
}

func (p *NewLeader) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	perm, perm2 := rng.Perm(len(nodes)), rng.Perm(len(nodes))
	kill := rng.Intn(3) == 0
	old, err := leader(ctx, c)
	if err != nil {
		return p.cut(ctx, c, minorityWith(nodes[perm[0]], nodes, perm), "new-leader: isolate", err)
	}
	if _, err := p.cut(ctx, c, minorityWith(old, nodes, perm), "isolate", nil); err != nil {
		return harness.FaultEvent{Description: "new-leader: isolate leader " + old, Nodes: sorted(nodes)}, err
	}
	start := time.Now()
	nl, err := waitNewLeader(ctx, c, old, p.times(newLeaderWait))
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		ev := harness.FaultEvent{Description: fmt.Sprintf("new-leader: isolated leader %s; no new leader within %s: %v",
			old, p.times(newLeaderWait), err), Nodes: sorted(nodes)}
		return ev, nil // the isolation stands; Heal undoes it
	}
	if kill {
		ev := harness.FaultEvent{Description: fmt.Sprintf("new-leader: isolated leader %s; %s won after %s: kill %s",
			old, nl, took, nl), Nodes: sorted(nodes)}
		p.killed.nodes = append(p.killed.nodes, nl)
		return ev, c.Kill(ctx, nl)
	}
	ev, err := p.cut(ctx, c, minorityWith(nl, nodes, perm2), "isolate", nil)
	ev.Description = fmt.Sprintf("new-leader: isolated leader %s; %s won after %s: %s", old, nl, took, ev.Description)
	return ev, err
}

// waitNewLeader polls until the cluster names a leader other than old, for
// at most wait.
func waitNewLeader(ctx context.Context, c harness.Cluster, old string, wait time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		if l, err := leader(ctx, c); err == nil && l != old {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return "", errors.New("timed out")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *NewLeader) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	ev, err := p.partitioned.Heal(ctx, c)
	kev, kerr := p.killed.heal(ctx, "restart", c.Start)
	if len(kev.Nodes) > 0 {
		ev.Description += "; " + kev.Description
	}
	return ev, errors.Join(err, kerr)
}

// KillLeader SIGKILLs the current leader, which has just answered writes
// (the workload never stops writing), and restarts it soon after, while
// the others elect and before the cluster has settled. (Killing every node
// at once is power-loss.)
type KillLeader struct{ Kill }

func (k *KillLeader) Name() string { return "kill-leader" }
func (k *KillLeader) Requires() []harness.Fault {
	return []harness.Fault{harness.FaultKill, harness.FaultLeader}
}
func (k *KillLeader) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return k.span(rng, 0.3, 2.5), k.span(rng, 0.3, 1.5)
}

func (k *KillLeader) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	return k.start(ctx, c, rng, "kill", c.Kill, true)
}

// Flap partitions briefly and often: each fault holds for 0.3–1.5 election
// timeouts, so elections start and are cut short, terms climb, and votes
// split. The shape is the leader isolated, a random node isolated, or
// random halves.
type Flap struct {
	scaled
	partitioned
}

func (p *Flap) Name() string { return "flap" }
func (p *Flap) Requires() []harness.Fault {
	return []harness.Fault{harness.FaultPartition, harness.FaultLeader}
}
func (p *Flap) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return p.span(rng, 0.3, 1.5), p.span(rng, 0.2, 1)
}

func (p *Flap) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	shape, perm := rng.Intn(3), rng.Perm(len(nodes))
	switch shape {
	case 0:
		l, err := leader(ctx, c)
		if err != nil {
			l = nodes[perm[0]]
		}
		return p.cut(ctx, c, []string{l}, "flap: isolate leader", err)
	case 1:
		return p.cut(ctx, c, []string{nodes[perm[0]]}, "flap: isolate", nil)
	default:
		var half []string
		for _, j := range perm[:len(nodes)/2] {
			half = append(half, nodes[j])
		}
		return p.cut(ctx, c, half, "flap: halves", nil)
	}
}

// PauseLeaderBrief SIGSTOPs the leader for 1.2–3 election timeouts: long
// enough for the others to elect a new leader and write, short enough that
// the old one wakes up into the new term still believing it leads, with
// clients' requests queued at it. Where the cluster can partition, the
// leader is first cut off with a minority (for 5 nodes: itself and one
// follower), and the cut holds for a moment after it wakes: its companion
// never heard of the new term and still answers it, so a read confirmation
// that counts one acknowledgement short of a majority, or none, is
// answered from the old state. (Paused, its own step-down timer stood
// still, so that moment is not cut short by it.)
type PauseLeaderBrief struct {
	scaled
	victims
	partitioned
	wake time.Duration // the cut holds this long after the resume
}

func (p *PauseLeaderBrief) Name() string { return "pause-leader-brief" }
func (p *PauseLeaderBrief) Requires() []harness.Fault {
	return []harness.Fault{harness.FaultPause, harness.FaultLeader}
}
func (p *PauseLeaderBrief) Pace(rng *rand.Rand) (time.Duration, time.Duration) {
	return p.span(rng, 1.2, 3), p.span(rng, 0.3, 1.5)
}

func (p *PauseLeaderBrief) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	perm := rng.Perm(len(nodes))
	wake := p.span(rng, 0.3, 0.6)
	l, err := leader(ctx, c)
	if err != nil || !c.Supports(harness.FaultPartition) {
		return p.start(ctx, c, rng, "pause", c.Pause, true)
	}
	ev, cerr := p.cut(ctx, c, minorityWith(l, nodes, perm), "cut off", nil)
	p.wake = wake
	perr := p.on(ctx, l, "pause", c.Pause)
	ev.Description = fmt.Sprintf("pause leader %s, %s; the cut holds %s after it resumes", l, ev.Description, wake)
	return ev, errors.Join(cerr, perr)
}

func (p *PauseLeaderBrief) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	ev, err := p.heal(ctx, "resume", c.Resume)
	if len(p.partitioned.active) == 0 {
		return ev, err
	}
	sleep(ctx, p.wake)
	nev, nerr := p.partitioned.Heal(ctx, c)
	ev.Description += fmt.Sprintf(", %s later %s", p.wake, nev.Description)
	return ev, errors.Join(err, nerr)
}
