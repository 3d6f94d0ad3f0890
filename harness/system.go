package harness

import (
	"context"
	"time"
)

// Client talks to one node of the system on behalf of one worker.
//
// Invoke performs op (an invocation) and returns its completion: OK if it
// certainly took effect, Fail if it certainly did not, Info if unknown. The
// client, not the checker, decides: calling an unknown outcome Fail makes the
// checker lie. A read that timed out may be Fail (it changed nothing); a write
// that timed out after being sent is Info. Completed reads set Value (nil =
// absent). Invoke must return by the time ctx is done.
type Client interface {
	Invoke(ctx context.Context, op Op) Op
	Close() error
}

// NodeSpec is how one node of a system is to be launched.
type NodeSpec struct {
	ID      string            // "n1"
	Listen  string            // host:port the node serves clients and peers on
	Peers   map[string]string // every node id (itself included) -> address this node dials it at (may be a proxy)
	DataDir string
	Bug     string
	// PeerListen is a second address for peer traffic, given only to systems
	// that implement SharedPeers (etcd listens for clients and peers apart).
	PeerListen string
}

// Launch is a process to run for a node.
type Launch struct {
	Binary string
	Args   []string
	Env    []string
}

// NodeStatus is what a node says of itself.
type NodeStatus struct {
	ID      string `json:"id"`
	Role    string `json:"role"` // leader, follower, candidate, replica
	Term    uint64 `json:"term"`
	Leader  string `json:"leader"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
}

// Digest is a hash of a node's applied state.
type Digest struct {
	Node    string `json:"node"`
	Digest  string `json:"digest"`
	Applied uint64 `json:"applied"`
	Keys    int    `json:"keys"`
	// Values maps key -> hash of the value held, when the system reports per
	// key (quorum mode: replicas hold different keys). Convergence then
	// compares per key among the nodes that hold it.
	Values map[string]string `json:"values,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// Bug is one entry of a system's catalog of injectable bugs.
type Bug struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Workload    string   `json:"workload"` // workload expected to expose it
	Nemesis     []string `json:"nemesis"`  // fault packages expected to expose it
	// Reach says who is expected to catch it: "" (ReachHarness) a black-box
	// run with the workload and faults above; ReachSimulation only the
	// system's deterministic simulation (see Simulator), because the bug
	// needs a fault inside a window no process-level fault can aim at.
	Reach string `json:"reach,omitempty"`
}

// Who is expected to catch a catalog bug (Bug.Reach).
const (
	ReachHarness    = ""
	ReachSimulation = "simulation"
)

// Simulator is implemented by systems that ship a deterministic simulation
// of themselves: Simulate runs one seed with bug switched on and returns
// the violation it found (nil if none).
type Simulator interface {
	Simulate(bug string, seed int64) error
}

// System knows how to run one kind of system on a node and how to talk to it.
type System interface {
	Name() string
	// Build makes sure the node binary exists (building it into cacheDir if
	// needed) and returns its path.
	Build(ctx context.Context, cacheDir string) (string, error)
	// Launch describes the process for a node, given the built binary.
	Launch(binary string, n NodeSpec) Launch
	// NewClient returns a client bound to the node at addr.
	NewClient(node, addr string) (Client, error)
	// Status asks the node at addr about itself; an error means unhealthy.
	Status(ctx context.Context, addr string) (NodeStatus, error)
	// Digest asks the node at addr for a digest of its state (convergence).
	Digest(ctx context.Context, addr string) (Digest, error)
	// SetClock offsets the node's clock; ErrUnsupported if the system cannot.
	SetClock(ctx context.Context, addr string, offset time.Duration) error
	// Bugs is the catalog of injectable bugs.
	Bugs() []Bug
}

// LeaderReporter is implemented by systems whose nodes elect a leader and
// name it in Status; packages aimed at the leader require it (FaultLeader).
type LeaderReporter interface{ ReportsLeader() bool }

// Converger is implemented by systems that need a pass over all keys before
// replicas agree (e.g. read repair in quorum mode). The runner calls it in
// the recovery phase, before digests are compared.
type Converger interface {
	Converge(ctx context.Context, addrs []string, keys []string) error
}

// SharedPeers is implemented by systems whose members must all agree on
// every member's peer address (etcd derives its cluster id from them). A
// deployment then gives every node the same Peers map, each entry the
// address in front of that member's PeerListen, so it can cut traffic only
// at a member's own entrance, not per link.
type SharedPeers interface {
	SharedPeers() bool
}
