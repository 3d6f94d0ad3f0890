package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Fault is a kind of fault a deployment can make.
type Fault string

const (
	FaultPartition Fault = "partition"
	FaultKill      Fault = "kill"
	FaultPause     Fault = "pause"
	FaultClock     Fault = "clock"
	FaultLoss      Fault = "loss"
	FaultLatency   Fault = "latency"
)

// ErrUnsupported is wrapped by errors for faults a cluster cannot make.
var ErrUnsupported = errors.New("not supported by this deployment")

// Grudge says, for each node, the nodes whose traffic it drops: Grudge{"n1":
// {"n2"}} means n1 no longer hears n2 (asymmetric unless n2 also names n1).
type Grudge map[string][]string

// String renders the grudge deterministically, e.g. "n1<-x-{n2,n3} n2<-x-{n1}".
func (g Grudge) String() string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		from := append([]string(nil), g[k]...)
		sort.Strings(from)
		parts = append(parts, fmt.Sprintf("%s drops {%s}", k, strings.Join(from, ",")))
	}
	return strings.Join(parts, "; ")
}

// Symmetric builds a grudge that cuts every link between the components.
func Symmetric(components ...[]string) Grudge {
	g := Grudge{}
	for i, a := range components {
		for j, b := range components {
			if i == j {
				continue
			}
			for _, n := range a {
				g[n] = append(g[n], b...)
			}
		}
	}
	return g
}

// LinkFault degrades node-to-node links.
type LinkFault struct {
	Latency time.Duration `json:"latency,omitempty"`
	Jitter  time.Duration `json:"jitter,omitempty"`
	Loss    float64       `json:"loss,omitempty"` // probability in [0,1]
	// Links limits the fault to links from a node to the listed nodes; nil means every link.
	Links map[string][]string `json:"links,omitempty"`
}

// Cluster is a running deployment of a system: what the nemesis and the runner
// may do to it. Methods are safe for concurrent use. A fault the deployment
// cannot make returns an error wrapping ErrUnsupported.
type Cluster interface {
	// Nodes lists node names ("n1", "n2", …) in order.
	Nodes() []string
	// ClientAddr is the host:port where the harness's clients reach node
	// (Node(node).Addr()).
	ClientAddr(node string) string
	// Node is node with the host:port at which the harness reaches each of
	// its ports (PortClient and every port the system names).
	Node(node string) Node
	// Supports tells which faults this cluster can make.
	Supports(f Fault) bool

	Start(ctx context.Context, node string) error  // start (or restart) a stopped or killed node
	Kill(ctx context.Context, node string) error   // SIGKILL
	Stop(ctx context.Context, node string) error   // graceful (SIGTERM)
	Pause(ctx context.Context, node string) error  // SIGSTOP
	Resume(ctx context.Context, node string) error // SIGCONT

	Partition(ctx context.Context, g Grudge) error // replaces any previous partition
	Netem(ctx context.Context, f LinkFault) error  // replaces any previous link fault
	Heal(ctx context.Context) error                // removes partitions and link faults

	// SetClock offsets node's clock from true time (through the system's debug API).
	SetClock(ctx context.Context, node string, offset time.Duration) error

	// CollectLogs copies node logs (and anything else useful) into dir/<node>/.
	CollectLogs(ctx context.Context, dir string) error
	// Close stops every node and removes everything the deployment made. It is
	// idempotent and must work after a failed setup.
	Close(ctx context.Context) error
}

// ClusterSpec is what a deployment needs to start a cluster.
type ClusterSpec struct {
	Nodes  int
	System System
	Bug    string // passed to every node; "" = correct system
	Dir    string // run directory: deployments put data under Dir/data, logs under Dir/nodes
	RunID  string // unique per run; labels, names
	Log    Logger
}

// Deployment starts clusters.
type Deployment interface {
	Name() string
	// Supports tells which faults clusters of this deployment can make for sys.
	Supports(sys System, f Fault) bool
	Deploy(ctx context.Context, spec ClusterSpec) (Cluster, error)
}

// NodesOf is every node of c with its ports, in order.
func NodesOf(c Cluster) []Node {
	ids := c.Nodes()
	out := make([]Node, len(ids))
	for i, id := range ids {
		out[i] = c.Node(id)
	}
	return out
}

// Logger is the harness's progress sink (a *slog.Logger satisfies it).
type Logger interface {
	Info(msg string, args ...any)
	Warn(msg string, args ...any)
	Error(msg string, args ...any)
	Debug(msg string, args ...any)
}
