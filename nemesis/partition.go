package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Shapes of partition, in the order the rng picks them.
const (
	ShapeHalves  = "halves"
	ShapeIsolate = "isolate"
	ShapeLeader  = "isolate-leader"
	ShapeRing    = "majorities-ring"
	ShapeBridge  = "bridge"
	shapeCount   = 5
)

// leaderTimeout bounds asking for the leader, so it never stalls the schedule.
const leaderTimeout = 3 * time.Second

// Partition cuts the network into a shape chosen at random each time:
// random halves, one node isolated, the current leader isolated, a
// majorities ring (every node hears a majority, no two the same one), or a
// bridge (two halves joined by one node that hears both).
type Partition struct {
	active []string
}

func (p *Partition) Name() string              { return "partition" }
func (p *Partition) Requires() []harness.Fault { return []harness.Fault{harness.FaultPartition} }

func (p *Partition) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	nodes := c.Nodes()
	if len(nodes) < 2 {
		return harness.FaultEvent{}, fmt.Errorf("partition: needs at least 2 nodes, have %d", len(nodes))
	}
	shape := rng.Intn(shapeCount)
	perm := rng.Perm(len(nodes))
	shuffled := make([]string, len(nodes))
	for i, j := range perm {
		shuffled[i] = nodes[j]
	}
	g, desc := p.shape(ctx, c, shape, shuffled)
	ev := harness.FaultEvent{Description: desc, Nodes: touched(g)}
	if err := c.Partition(ctx, g); err != nil {
		p.active = ev.Nodes // a half-made partition still needs healing
		return ev, fmt.Errorf("partition %s: %w", desc, err)
	}
	p.active = ev.Nodes
	return ev, nil
}

// shape builds the grudge for shape over the shuffled nodes. Shapes that
// need 3 nodes fall back to halves on 2. A majorities ring needs 4: on 3,
// "each hears a majority, no two the same" can only be one-way cuts (n1
// drops n2, n2 drops n3, n3 drops n1), which over TCP — where a connection
// needs both directions — cut every link; a bridge is drawn instead.
func (p *Partition) shape(ctx context.Context, c harness.Cluster, shape int, s []string) (harness.Grudge, string) {
	n := len(s)
	if n < 3 && (shape == 3 || shape == 4) {
		shape = 0
	}
	if n == 3 && shape == 3 {
		shape = 4
	}
	switch shape {
	case 1:
		return harness.Symmetric(s[:1], s[1:]), fmt.Sprintf("%s %s | %s", ShapeIsolate, s[0], set(s[1:]))
	case 2:
		victim, label, how := s[0], ShapeLeader, ""
		switch l, err := leader(ctx, c); {
		case err == nil:
			victim = l
		case errors.Is(err, harness.ErrUnsupported):
			// A leaderless system: there is no leader to aim at, so this
			// is a plain isolation and is named as one.
			label, how = ShapeIsolate, " (the system names no leader)"
		default:
			how = fmt.Sprintf(" (no leader known: %v; isolated %s instead)", err, victim)
		}
		var rest []string
		for _, x := range s {
			if x != victim {
				rest = append(rest, x)
			}
		}
		return harness.Symmetric([]string{victim}, rest), fmt.Sprintf("%s %s | %s%s", label, victim, set(rest), how)
	case 3:
		g := ring(s)
		return g, fmt.Sprintf("%s %s: %s", ShapeRing, strings.Join(s, "-"), g)
	case 4:
		bridge, rest := s[0], s[1:]
		a, b := rest[:len(rest)/2], rest[len(rest)/2:]
		return harness.Symmetric(a, b), fmt.Sprintf("%s %s between %s and %s", ShapeBridge, bridge, set(a), set(b))
	default:
		a, b := s[:n/2], s[n/2:]
		return harness.Symmetric(a, b), fmt.Sprintf("%s %s | %s", ShapeHalves, set(a), set(b))
	}
}

// ring places the nodes on a ring in the given order; each hears the
// majority of nodes centred on itself and drops the rest. For 5 nodes every
// node hears its two neighbours: each sees a majority, no two see the same
// one, so no majority agrees on anything by plain counting.
func ring(s []string) harness.Grudge {
	n := len(s)
	maj := n/2 + 1
	g := harness.Grudge{}
	for i, x := range s {
		hears := map[string]bool{}
		for k := 0; k < maj; k++ {
			hears[s[((i-(maj-1)/2+k)%n+n)%n]] = true
		}
		for _, y := range s {
			if !hears[y] {
				g[x] = append(g[x], y)
			}
		}
	}
	return g
}

// touched lists every node a grudge names, sorted.
func touched(g harness.Grudge) []string {
	seen := map[string]bool{}
	var out []string
	for a, bs := range g {
		for _, x := range append([]string{a}, bs...) {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return sorted(out)
}

// Heal removes every partition (and link fault) of the cluster.
func (p *Partition) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	ev := harness.FaultEvent{Description: "heal network", Nodes: p.active}
	if err := c.Heal(ctx); err != nil {
		return ev, fmt.Errorf("partition: heal: %w", err)
	}
	p.active = nil
	return ev, nil
}
