package harness

import (
	"context"
	"fmt"
	"slices"
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
	ID     string // "n1"
	Binary string // what the system's Build returned ("" for a system without a Builder)
	Listen string // host:port the node serves clients on (= Ports[PortClient])
	// Ports has a host:port to listen on for each port the system names
	// (PortNamer), and for PortClient. Peers reach a node at its PortPeer if
	// the system names one, else at its client port.
	Ports map[string]string
	// Peers maps every node id (itself included) to the address this node
	// dials that node's peer port at. It may be a proxy of this one link:
	// partitions are made per link there.
	Peers   map[string]string
	DataDir string
	Bug     string
	// PeerListen is Ports[PortPeer], "" if the system has no peer port.
	PeerListen string
}

// Well-known port names (NodeSpec.Ports, Node.Ports).
const (
	PortClient = "client" // the harness's clients; every node has it
	PortPeer   = "peer"   // node-to-node traffic, when it has a port of its own
)

// Node is one running node as every per-node call of the seam sees it
// (NewClient, Status, Digest, SetClock, Converge, Setup): its id and, for
// PortClient and every port the system names (PortNamer), the host:port at
// which the harness reaches that port. A status or metrics page on a port
// of its own is Ports["monitor"]. A node keeps its ports across restarts.
type Node struct {
	ID    string
	Ports map[string]string
}

// Addr is the node's client address, Ports[PortClient].
func (n Node) Addr() string { return n.Ports[PortClient] }

// NodeAt is node id with only a client port, at addr: for calling an
// adapter by hand (a unit test, a tool) on a node without named ports.
func NodeAt(id, addr string) Node {
	return Node{ID: id, Ports: map[string]string{PortClient: addr}}
}

// Launch is a process to run for a node.
type Launch struct {
	Binary string
	Args   []string
	Env    []string
	// Files are written before the node starts, each at its path relative
	// to the node's data directory (configuration files).
	Files map[string][]byte
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
	Node   string `json:"node"`
	Digest string `json:"digest"`
	// Applied is the index of the last log entry the state reflects (0 if
	// not known). On a system that reports a leader, two nodes at the same
	// Applied must hold the same state: when they do not, and the samples
	// stop changing, the runner takes the divergence as final.
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
	// SimNemesis, SimOptions and SimWorkload are how runs on the sim
	// deployment reach a simulation-reach bug: the simulation's own
	// packages (split-vote, crash-storm, reorder, …), the system options
	// those runs need (more batches in flight, a low snapshot threshold)
	// and the workload that shows it best. They stand for Nemesis and
	// Workload there; empty, those are used.
	SimNemesis  []string          `json:"sim_nemesis,omitempty"`
	SimOptions  map[string]string `json:"sim_options,omitempty"`
	SimWorkload string            `json:"sim_workload,omitempty"`
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

// System is the seam between Gauntlet and a system under test: how to run
// one of its nodes and how to talk to it. Everything else a system can offer
// is an optional interface below, detected by a type assertion; having it is
// the declaration (a deployment or the runner never probes a node to learn
// what a system can do).
type System interface {
	// Name is the name the system is registered under.
	Name() string
	// Launch describes the process for node n. An error (a configuration
	// file that cannot be made) ends the setup: the run could not be
	// carried out.
	Launch(ctx context.Context, n NodeSpec) (Launch, error)
	// NewClient returns a client bound to node n (n.Addr() is its client
	// port).
	NewClient(n Node) (Client, error)
}

// Builder is a system whose node binary is made (or found) before any node
// launches; the path reaches Launch as NodeSpec.Binary. cacheDir is the
// deployment's, for the system to keep what it built.
type Builder interface {
	Build(ctx context.Context, cacheDir string) (string, error)
}

// StatusReporter is a system whose nodes say who they are: an answer is
// health (the runner waits for every node to answer, and for a leader if the
// system is a LeaderReporter). Without it a node is healthy once its client
// port accepts connections.
type StatusReporter interface {
	Status(ctx context.Context, n Node) (NodeStatus, error)
}

// LeaderReporter is a StatusReporter whose nodes elect a leader and name it
// in NodeStatus.Leader. Fault packages that aim at the leader need it.
type LeaderReporter interface {
	StatusReporter
	ReportsLeader() bool
}

// ElectionReporter is a LeaderReporter whose NodeStatus.Role and Term are
// one snapshot of the node's election state: Term is the term it is in now
// (not the term of the last entry it applied, which is what etcd's
// maintenance status reports), and Role "leader" means it won that term.
// The runner then samples every node's status through the run and checks
// election safety: at most one leader per term (Raft §5.2; a Paxos ballot or
// a Zab epoch alike). Declare it only if a node can never say it leads a
// term it did not win.
type ElectionReporter interface {
	LeaderReporter
	ReportsElections() bool
}

// SetupElector is a LeaderReporter whose Setup step creates the thing
// whose leader its statuses name from then on: a stream, a bucket, a table
// with a raft group of its own. Before Setup, a status's leader, role and
// term are the cluster's election (the cluster must have a leader before
// setup); once Setup has returned, they are the new resource's, whose terms
// count from its own beginning. The runner then waits, after Setup, for the
// resource to have a leader before the main phase, and (for an
// ElectionReporter) the election watch judges the two elections apart, one
// leader per term in each, and drops the samples taken while Setup runs.
// Once Setup has returned, Status must report only the resource's
// election: no leader rather than the cluster's.
type SetupElector interface {
	LeaderReporter
	ElectsAtSetup() bool
}

// ElectsAtSetup tells whether sys's statuses report, after its Setup step,
// another election than before it (SetupElector).
func ElectsAtSetup(sys System) bool {
	e, ok := sys.(SetupElector)
	_, sets := sys.(Setupper)
	return ok && sets && ReportsLeader(sys) && e.ElectsAtSetup()
}

// Digester is a system that can hash a node's state: after recovery the
// digests of all nodes must agree (convergence). Without it, or when Digest
// returns an error wrapping ErrUnsupported, convergence is not judged and
// the runner does not wait for it.
type Digester interface {
	Digest(ctx context.Context, n Node) (Digest, error)
}

// ClockSetter is a system that can offset one node's clock (through a debug
// API of its own: an unmodified binary cannot be given a skewed clock).
// Clock faults need it.
type ClockSetter interface {
	SetClock(ctx context.Context, n Node, offset time.Duration) error
}

// BugCatalog is a system with injectable bugs (--bug NAME reaches every
// node as NodeSpec.Bug).
type BugCatalog interface {
	Bugs() []Bug
}

// PortNamer is a system whose nodes listen on more ports than the client
// port: the deployment allocates one per name (NodeSpec.Ports). Name
// PortPeer to have peers' links arrive there.
type PortNamer interface {
	Ports() []string
}

// SetupEnv is what a system's Setup step may use.
type SetupEnv struct {
	Nodes []Node // every node, in order, with its ports
	Log   Logger
}

// Setupper is a system with a step to run once the cluster is healthy and
// before the main phase (create a bucket, a table). An error ends the run:
// it could not be carried out.
type Setupper interface {
	Setup(ctx context.Context, env SetupEnv) error
}

// Timescaler is a system that declares its failure-detection and election
// timescale: how long its nodes go without hearing from a leader before
// they elect another (Raft's election timeout, the lower end of its
// randomized range; a lease or session timeout where that is what decides).
// Every timed fault scales by it (Test.Timescale): partitions and pauses
// that hold for less than it cause no election. Without it a system is
// taken to elect within DefaultTimescale. Derive it from the options the
// nodes are launched with, so it says what the nodes do.
type Timescaler interface {
	Timescale() time.Duration
}

// TimescaleOf is what sys declares (Timescaler), else DefaultTimescale.
func TimescaleOf(sys System) time.Duration {
	if ts, ok := sys.(Timescaler); ok && ts.Timescale() > 0 {
		return ts.Timescale()
	}
	return DefaultTimescale
}

// Capability names an optional interface of System, for Has.
type Capability string

const (
	CapStatus Capability = "status" // StatusReporter
	CapDigest Capability = "digest" // Digester
	CapClock  Capability = "clock"  // ClockSetter
)

// Capable is a system whose one type carries optional methods that its
// configuration may not back (a system described by a file, exec:FILE):
// Has says which count. Other systems have exactly what they implement.
type Capable interface {
	Has(c Capability) bool
}

// Has tells whether sys has the optional interface c.
func Has(sys System, c Capability) bool {
	var ok bool
	switch c {
	case CapStatus:
		_, ok = sys.(StatusReporter)
	case CapDigest:
		_, ok = sys.(Digester)
	case CapClock:
		_, ok = sys.(ClockSetter)
	}
	if cp, declares := sys.(Capable); ok && declares {
		return cp.Has(c)
	}
	return ok
}

// StatusOf asks sys for the status of node n; ErrUnsupported if the
// system reports none.
func StatusOf(ctx context.Context, sys System, n Node) (NodeStatus, error) {
	if s, ok := sys.(StatusReporter); ok && Has(sys, CapStatus) {
		return s.Status(ctx, n)
	}
	return NodeStatus{}, fmt.Errorf("%s reports no node status: %w", sys.Name(), ErrUnsupported)
}

// ReportsLeader tells whether sys names its leader in node status.
func ReportsLeader(sys System) bool {
	l, ok := sys.(LeaderReporter)
	return ok && Has(sys, CapStatus) && l.ReportsLeader()
}

// ReportsElections tells whether sys's statuses can be checked for one
// leader per term (ElectionReporter).
func ReportsElections(sys System) bool {
	e, ok := sys.(ElectionReporter)
	return ok && ReportsLeader(sys) && e.ReportsElections()
}

// DigestOf asks sys for a digest of node n; ErrUnsupported if the system
// makes none.
func DigestOf(ctx context.Context, sys System, n Node) (Digest, error) {
	if d, ok := sys.(Digester); ok && Has(sys, CapDigest) {
		return d.Digest(ctx, n)
	}
	return Digest{}, fmt.Errorf("%s reports no state digest: %w", sys.Name(), ErrUnsupported)
}

// SetClockOf offsets the clock of node n; ErrUnsupported if the system
// cannot.
func SetClockOf(ctx context.Context, sys System, n Node, offset time.Duration) error {
	if c, ok := sys.(ClockSetter); ok && Has(sys, CapClock) {
		return c.SetClock(ctx, n, offset)
	}
	return fmt.Errorf("%s cannot offset a node's clock: %w", sys.Name(), ErrUnsupported)
}

// BugsOf is the system's catalog, nil if it has none.
func BugsOf(sys System) []Bug {
	if b, ok := sys.(BugCatalog); ok {
		return b.Bugs()
	}
	return nil
}

// PortsOf lists the ports a node of sys listens on: PortClient first.
func PortsOf(sys System) []string {
	out := []string{PortClient}
	if p, ok := sys.(PortNamer); ok {
		for _, name := range p.Ports() {
			if name != PortClient && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// Converger is implemented by systems that need a pass over all keys before
// replicas agree (e.g. read repair in quorum mode). The runner calls it in
// the recovery phase, before digests are compared.
type Converger interface {
	Converge(ctx context.Context, nodes []Node, keys []string) error
}

// SharedPeers is implemented by systems whose members must all agree on
// every member's peer address (etcd derives its cluster id from them). A
// deployment then gives every node the same Peers map, each entry the
// address in front of that member's peer port, so it can cut traffic only
// at a member's own entrance, not per link.
type SharedPeers interface {
	SharedPeers() bool
}

// IsSharedPeers tells whether sys's members need one shared peer map.
func IsSharedPeers(sys System) bool {
	sp, ok := sys.(SharedPeers)
	return ok && sp.SharedPeers()
}
