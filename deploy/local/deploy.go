// Package local deploys a cluster as processes on 127.0.0.1: no root, no
// Docker. Every node listens on a free port below the kernel's ephemeral
// range (see ports.go for why), keeps its data under
// <run>/data/<node> and its output in <run>/nodes/<node>/node.log (appended
// across restarts, a marker line per start). Several clusters can run at
// once on one machine.
//
// # The proxy mesh
//
// Node i reaches peer j only through a TCP proxy owned by the harness, one
// per ordered pair (i→j), so each link can be cut or degraded on its own.
// The proxy is our own (proxy.go), not an embedded Toxiproxy, because
// partitions need exactly these semantics and Toxiproxy's embedding API is
// undocumented (it would have to be pinned and would add dependencies):
//
//   - Partition(grudge): grudge[a] containing b means a no longer hears b —
//     bytes b sends to a are held, on connections b dialed and on replies to
//     connections a dialed, while a's bytes still reach b (asymmetric grudges
//     are exact). Nothing is refused or reset: a partition is silence. A new
//     connection on a cut link is accepted and black-holed (not even dialed
//     on, so a dead peer does not show through as "connection refused").
//   - When a link is whole again (Heal, or a new grudge that no longer cuts
//     it), every connection a partition touched is closed and the peers
//     reconnect. Delivering the held bytes late would be what TCP does after
//     a short outage, but minutes-old requests arriving after the sender has
//     given up only muddle a history; a closed connection is a clear signal.
//   - Netem latency and jitter delay each chunk read from a socket; a chunk
//     is never delivered before the one before it, so a stream keeps its
//     order and delays overlap as on a real link.
//   - Netem loss cannot drop bytes from the middle of a TCP stream without
//     corrupting it. A lost packet on a real TCP link costs a retransmission,
//     so a "lost" chunk (probability p per chunk) is delivered 200–400 ms
//     late, and everything behind it waits too. That is the effect loss has
//     on a TCP-based protocol; it is not datagram loss, and a system that
//     needs true message loss should be tested on the docker deployment.
//
// Clients of the harness dial nodes directly, not through the mesh: faults
// are between nodes; a partitioned node still answers (or times out) the
// clients that reach it.
//
// # Processes
//
// Kill is SIGKILL, Stop SIGTERM (SIGKILL after 10 s), Pause SIGSTOP, Resume
// SIGCONT, Start restarts a node with the same arguments and data directory.
// Nodes run in their own process group with Pdeathsig=SIGKILL, so a harness
// that is itself SIGKILLed leaves no node behind. Clock faults go through
// the system's debug API (System.SetClock).
//
// Systems whose members must share one peer map (harness.SharedPeers, e.g.
// etcd) get one proxy per member instead of per link; it cannot tell who is
// calling, so partitions and faults on some links are not supported for
// them here (Supports says no), only delay and loss on every link at once
// (Cluster.Netem without Links).
package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"os"
	"path/filepath"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Options configure the local deployment.
type Options struct {
	// BaseDir holds built node binaries (default: the user cache dir's
	// gauntlet/local).
	BaseDir string
	Logger  harness.Logger
}

// Deployment starts local clusters.
type Deployment struct {
	opts Options
}

var _ harness.Deployment = (*Deployment)(nil)

// New returns the local deployment.
func New(opts Options) harness.Deployment {
	return &Deployment{opts: opts}
}

func (d *Deployment) Name() string { return "local" }

// Supports: processes can always be killed and paused; links can be faulted
// unless the system needs a shared peer map; clocks if the system can skew
// its own (a harness.ClockSetter).
func (d *Deployment) Supports(sys harness.System, f harness.Fault) bool {
	switch f {
	case harness.FaultKill, harness.FaultPause:
		return true
	case harness.FaultPartition, harness.FaultLoss, harness.FaultLatency:
		return !harness.IsSharedPeers(sys)
	case harness.FaultClock:
		return harness.Has(sys, harness.CapClock)
	}
	return false
}

// logger is the run's logger, else the deployment's, else one that discards.
func (d *Deployment) logger(l harness.Logger) harness.Logger {
	return cmp.Or(l, d.opts.Logger, discard)
}

func (d *Deployment) cacheDir() (string, error) {
	dir := d.opts.BaseDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "gauntlet", "local")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("local: cache dir: %w", err)
	}
	return dir, nil
}

// Deploy builds the system, starts the proxies and the nodes. It does not
// wait for the cluster to be healthy (see Cluster.WaitHealthy). On error it
// returns the half-made cluster too, for the caller to Close.
func (d *Deployment) Deploy(ctx context.Context, spec harness.ClusterSpec) (harness.Cluster, error) {
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("local: %d nodes: need at least 1", spec.Nodes)
	}
	if spec.System == nil {
		return nil, errors.New("local: no system")
	}
	if spec.Dir == "" {
		return nil, errors.New("local: no run directory")
	}
	log := d.logger(spec.Log)
	cache, err := d.cacheDir()
	if err != nil {
		return nil, err
	}
	var bin string
	if b, ok := spec.System.(harness.Builder); ok {
		if bin, err = b.Build(ctx, cache); err != nil {
			return nil, fmt.Errorf("local: build %s: %w", spec.System.Name(), err)
		}
	}
	h := fnv.New64a()
	h.Write([]byte(spec.RunID))
	c := &Cluster{spec: spec, log: log, mesh: newMesh(int64(h.Sum64())), byID: map[string]*node{},
		shared: harness.IsSharedPeers(spec.System), spawn: newSpawner()}
	for i := 1; i <= spec.Nodes; i++ {
		n := &node{id: fmt.Sprintf("n%d", i)}
		c.nodes = append(c.nodes, n)
		c.byID[n.id] = n
	}
	if err := c.prepare(ctx, bin); err != nil {
		return c, err
	}
	for _, n := range c.nodes {
		n.release()
		if err := n.proc.start(); err != nil {
			return c, fmt.Errorf("local: %w", err)
		}
		log.Debug("node started", "node", n.id, "pid", n.proc.pid(), "listen", n.listen)
	}
	return c, nil
}

// prepare picks addresses, starts the proxies and builds each node's launch.
func (c *Cluster) prepare(ctx context.Context, bin string) error {
	if err := c.reservePorts(); err != nil {
		return err
	}
	peers, err := c.peerMaps()
	if err != nil {
		return err
	}
	for _, n := range c.nodes {
		data := filepath.Join(c.spec.Dir, "data", n.id)
		if err := os.MkdirAll(data, 0o755); err != nil {
			return fmt.Errorf("local: data dir of %s: %w", n.id, err)
		}
		l, err := c.spec.System.Launch(ctx, harness.NodeSpec{ID: n.id, Binary: bin, Listen: n.listen,
			Ports: maps.Clone(n.ports), Peers: peers[n.id], DataDir: data, Bug: c.spec.Bug, PeerListen: n.peerListen})
		if err != nil {
			return fmt.Errorf("local: launch of %s: %w", n.id, err)
		}
		if l.Binary == "" {
			return fmt.Errorf("local: launch of %s names no binary", n.id)
		}
		if err := nodes.WriteLaunchFiles(env.OS(), data, l.Files); err != nil {
			return fmt.Errorf("local: files of %s: %w", n.id, err)
		}
		n.proc = &proc{id: n.id, launch: l, log: c.log, spawn: c.spawn,
			logPath: filepath.Join(c.spec.Dir, harness.NodesDir, n.id, "node.log")}
	}
	return nil
}

// reservePorts holds a free port for each port every node needs.
func (c *Cluster) reservePorts() error {
	for _, n := range c.nodes {
		n.ports = map[string]string{}
		for _, name := range harness.PortsOf(c.spec.System) {
			ln, err := reservePort()
			if err != nil {
				return fmt.Errorf("local: %s port for %s: %w", name, n.id, err)
			}
			n.reserved = append(n.reserved, ln)
			n.ports[name] = ln.Addr().String()
		}
		n.listen = n.ports[harness.PortClient]
		n.peerListen = n.ports[harness.PortPeer]
	}
	return nil
}

// peerEntrance is where peers' traffic arrives at n.
func (n *node) peerEntrance() string {
	if n.peerListen != "" {
		return n.peerListen
	}
	return n.listen
}

// peerMaps starts the proxies: one per ordered pair of nodes, so that each
// link can be cut on its own, or, for a system whose members must share one
// peer map, one per member. It returns each node's Peers.
func (c *Cluster) peerMaps() (map[string]map[string]string, error) {
	peers := map[string]map[string]string{}
	if c.shared {
		m := map[string]string{}
		for _, n := range c.nodes {
			l, err := c.mesh.addLink("*", n.id, n.peerEntrance())
			if err != nil {
				return nil, fmt.Errorf("local: proxy to %s: %w", n.id, err)
			}
			m[n.id] = l.addr()
		}
		for _, n := range c.nodes {
			peers[n.id] = m
		}
		return peers, nil
	}
	for _, a := range c.nodes {
		peers[a.id] = map[string]string{a.id: a.peerEntrance()}
		for _, b := range c.nodes {
			if a == b {
				continue
			}
			l, err := c.mesh.addLink(a.id, b.id, b.peerEntrance())
			if err != nil {
				return nil, fmt.Errorf("local: proxy %s->%s: %w", a.id, b.id, err)
			}
			peers[a.id][b.id] = l.addr()
		}
	}
	return peers, nil
}

// discard is the logger when neither the run nor the options give one.
var discard harness.Logger = slog.New(slog.DiscardHandler)
