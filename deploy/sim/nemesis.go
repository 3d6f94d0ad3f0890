package simdeploy

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/sim"
)

// The simulation's own fault packages: what no process-level fault can aim
// at. Each arms one rule in the world per Start, aimed at a kind of message
// the nodes have been sending (the system names kinds through
// harness.MessageClassifier; without it every write is "data"); the rule
// fires on the next such message anywhere in the cluster.
const (
	// CrashAfter crashes a node right after it sent a message of a kind (a
	// vote granted, an append) and restarts it moments later, as a
	// supervisor would: the node dies between that message and its next.
	CrashAfter = "crash-after"
	// DropNext loses the next message of a kind (its connection goes dark).
	DropNext = "drop-next"
	// Reorder delivers the next message of a kind after a later message on
	// the same link.
	Reorder = "reorder"
	// CrashAfterSync crashes the next node that makes a file of a kind
	// durable (an fsync of it, or a rename onto its name: a snapshot saved,
	// a vote persisted) right after, and restarts it moments later: the
	// node dies between two of its durable steps.
	CrashAfterSync = "crash-after-sync"
)

// Nemeses are the simulation's packages by name.
func Nemeses() map[string]func() harness.Nemesis {
	return map[string]func() harness.Nemesis{
		CrashAfter: func() harness.Nemesis { return &messageFault{name: CrashAfter, action: sim.CrashSender} },
		DropNext:   func() harness.Nemesis { return &messageFault{name: DropNext, action: sim.Drop} },
		Reorder:    func() harness.Nemesis { return &messageFault{name: Reorder, action: sim.Reorder} },
		CrashAfterSync: func() harness.Nemesis {
			return &messageFault{name: CrashAfterSync, disk: true}
		},
	}
}

// restartWithin bounds how soon CrashAfter restarts its node.
const restartWithin = 50 * time.Millisecond

type messageFault struct {
	name   string
	action sim.Action
	disk   bool // aimed at a kind of durable write, not of message

	mu      sync.Mutex
	crashed []string // nodes crashed by this package and not restarted yet
	rng     *rand.Rand
}

func (m *messageFault) Name() string { return m.name }

func (m *messageFault) Requires() []harness.Fault { return []harness.Fault{FaultMessage} }

// Start arms the rule.
func (m *messageFault) Start(ctx context.Context, c harness.Cluster, rng *rand.Rand) (harness.FaultEvent, error) {
	w := World(ctx)
	if w == nil {
		return harness.FaultEvent{}, fmt.Errorf("%s: %w (the sim deployment's only)", m.name, harness.ErrUnsupported)
	}
	counts := w.KindCounts()
	if m.disk {
		counts = w.DurableCounts()
	}
	kind := pickKind(counts, rng)
	if kind == "" {
		return harness.FaultEvent{Description: m.name + ": nothing seen yet to aim at"}, nil
	}
	r := &sim.Rule{Kind: kind, Action: m.action}
	desc := map[sim.Action]string{
		sim.CrashSender: "crash the next node that sends a " + kind + " message, right after it, and restart it",
		sim.Drop:        "drop the next " + kind + " message",
		sim.Reorder:     "deliver the next " + kind + " message after a later one on its link",
	}[m.action]
	delay := time.Duration(rng.Int63n(int64(restartWithin)))
	restart := func(s sim.Segment) {
		m.mu.Lock()
		m.crashed = append(m.crashed, s.From)
		m.mu.Unlock()
		_ = c.Kill(ctx, s.From) // the world crashed it; this ends its goroutines
		time.Sleep(delay)
		if err := c.Start(context.WithoutCancel(ctx), s.From); err == nil {
			m.mu.Lock()
			m.crashed = slices.DeleteFunc(m.crashed, func(n string) bool { return n == s.From })
			m.mu.Unlock()
		}
	}
	if m.action == sim.Reorder && rng.Intn(2) == 0 {
		// Half the time the sender dies as its late message lands: a stale
		// message arriving while the node that sent it is gone is where
		// a receiver's mistake stops being repaired by the next one.
		desc += ", and crash its sender as it lands"
		r.Delivered = func(s sim.Segment) {
			w.Crash(s.From)
			restart(s)
		}
	}
	if m.disk {
		w.AddDiskRule(&sim.DiskRule{Kind: kind, After: func(node string) { restart(sim.Segment{From: node}) }})
		return harness.FaultEvent{Description: m.name + ": crash the next node that makes a " + kind +
			" file durable, right after, and restart it"}, nil
	}
	if m.action == sim.CrashSender {
		r.After = restart
	}
	w.AddRule(r)
	return harness.FaultEvent{Description: m.name + ": " + desc}, nil
}

// pickKind draws a kind of message: half the time uniformly, half the time
// in inverse proportion to how often it was sent, so that the rare kinds
// that mark a protocol's transitions (a vote granted, a snapshot) are aimed
// at about as often as the steady ones (heartbeats, appends).
func pickKind(counts map[string]int, rng *rand.Rand) string {
	kinds := slices.Sorted(maps.Keys(counts)) // the draw must not depend on map order
	if len(kinds) == 0 {
		return ""
	}
	if rng.Intn(2) == 0 {
		return kinds[rng.Intn(len(kinds))]
	}
	total := 0.0
	for _, k := range kinds {
		total += 1 / float64(counts[k])
	}
	x := rng.Float64() * total
	for _, k := range kinds {
		if x -= 1 / float64(counts[k]); x < 0 {
			return k
		}
	}
	return kinds[len(kinds)-1]
}

// Heal disarms the rules and starts any node this package left down.
func (m *messageFault) Heal(ctx context.Context, c harness.Cluster) (harness.FaultEvent, error) {
	if w := World(ctx); w != nil {
		if m.disk {
			w.ClearDiskRules()
		} else {
			w.ClearRules()
		}
	}
	m.mu.Lock()
	down := m.crashed
	m.crashed = nil
	m.mu.Unlock()
	for _, n := range down {
		if err := c.Start(ctx, n); err != nil {
			return harness.FaultEvent{}, err
		}
	}
	return harness.FaultEvent{Description: m.name + ": disarmed", Nodes: down}, nil
}
