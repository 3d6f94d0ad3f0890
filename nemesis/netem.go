package nemesis

import (
	"context"
	"fmt"
	"math/rand"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Loss makes links lossy: every link, or the links to and from one node,
// lose 10%..50% of their packets (how a deployment emulates that is its
// business; see deploy/local for TCP proxies).
type Loss struct{ links }

func (l *Loss) Name() string              { return "loss" }
func (l *Loss) Requires() []harness.Fault { return []harness.Fault{harness.FaultLoss} }

func (l *Loss) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	p := float64(10+rng.Intn(41)) / 100
	f := harness.LinkFault{Loss: p}
	return l.start(ctx, c, rng, f, fmt.Sprintf("loss %.0f%%", p*100))
}

func (l *Loss) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	return l.heal(ctx, c, "loss")
}

// Latency delays links by 20..300 ms, with jitter of up to half of that,
// on every link or on the links to and from one node.
type Latency struct{ links }

func (l *Latency) Name() string              { return "latency" }
func (l *Latency) Requires() []harness.Fault { return []harness.Fault{harness.FaultLatency} }

func (l *Latency) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	d := time.Duration(20+rng.Intn(281)) * time.Millisecond
	j := time.Duration(rng.Int63n(int64(d/2) + 1)).Round(time.Millisecond)
	f := harness.LinkFault{Latency: d, Jitter: j}
	return l.start(ctx, c, rng, f, fmt.Sprintf("latency %s ±%s", d, j))
}

func (l *Latency) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	return l.heal(ctx, c, "latency")
}

// links is what loss and latency share: the scope of the fault.
type links struct {
	active []string
}

func (l *links) start(ctx context.Context, c harness.Cluster, rng *rand.Rand, f harness.LinkFault, what string) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	if len(nodes) < 2 {
		return harness.FaultEvent{}, fmt.Errorf("%s: needs at least 2 nodes, have %d", what, len(nodes))
	}
	oneNode := rng.Intn(2) == 0
	node := nodes[rng.Intn(len(nodes))]
	ev := harness.FaultEvent{Description: what + " on every link", Nodes: sorted(nodes)}
	if oneNode {
		f.Links = map[string][]string{}
		for _, x := range nodes {
			if x != node {
				f.Links[node] = append(f.Links[node], x)
				f.Links[x] = []string{node}
			}
		}
		ev = harness.FaultEvent{Description: fmt.Sprintf("%s on the links to and from %s", what, node), Nodes: []string{node}}
	}
	l.active = ev.Nodes
	if err := c.Netem(ctx, f); err != nil {
		return ev, fmt.Errorf("%s: %w", ev.Description, err)
	}
	return ev, nil
}

func (l *links) heal(ctx context.Context, c harness.Cluster, what string) (harness.FaultEvent, error) {
	ev := harness.FaultEvent{Description: "heal " + what, Nodes: l.active}
	if err := c.Heal(ctx); err != nil {
		return ev, fmt.Errorf("%s: heal: %w", what, err)
	}
	l.active = nil
	return ev, nil
}
