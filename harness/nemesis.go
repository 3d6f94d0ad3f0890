package harness

import (
	"context"
	"math/rand"
)

// FaultEvent describes a fault as it was applied, for the history.
type FaultEvent struct {
	Description string   // "partition {n1,n2} | {n3,n4,n5}"
	Nodes       []string // nodes touched
}

// Nemesis is one fault package (partition, kill, pause, clock, loss, …).
// The runner schedules packages; a package only knows how to start and heal
// its fault.
type Nemesis interface {
	Name() string
	// Requires lists the faults a cluster must support for this package.
	Requires() []Fault
	// Start injects one fault, choosing targets with rng.
	Start(ctx context.Context, c Cluster, rng *rand.Rand) (FaultEvent, error)
	// Heal undoes whatever Start did; it is safe to call when nothing is active.
	Heal(ctx context.Context, c Cluster) (FaultEvent, error)
}

// LeaderFinder is optionally implemented by clusters (or wrappers) so that
// nemeses can target the current leader.
type LeaderFinder interface {
	Leader(ctx context.Context) (string, error)
}
