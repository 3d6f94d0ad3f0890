// Package simdeploy is the sim deployment: every node of a Go system
// written against package env, and the harness's clients, in one process on
// a simulated world (package sim) inside a synctest bubble, so a 60 s run
// with elections, partitions and crashes takes well under a second. The
// runner carries out the run inside it (harness.Enclosure); the nemesis
// vocabulary is the usual one, plus the simulation's own faults
// (nemesis.go). See docs/simulation.md.
package simdeploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/sim"
)

// Name is the deployment's name (--deploy sim).
const Name = "sim"

// FaultMessage is what the simulation alone can do: crash a node between
// two messages, drop the next message of a kind, reorder two messages on a
// link. Nemesis packages that need it run on the sim deployment only.
const FaultMessage harness.Fault = "message"

// Options configure the deployment.
type Options struct {
	// Seed seeds the world (the run's --seed).
	Seed int64
	// Latency is the mean one-way delay between nodes (0 = 500µs).
	Latency time.Duration
	Logger  harness.Logger
}

// Deployment runs clusters in simulated worlds.
type Deployment struct{ opt Options }

var (
	_ harness.Deployment = (*Deployment)(nil)
	_ harness.Enclosure  = (*Deployment)(nil)
)

// New returns the sim deployment.
func New(opt Options) *Deployment { return &Deployment{opt: opt} }

// Name is "sim".
func (d *Deployment) Name() string { return Name }

// Supports: every fault, for a system whose nodes are Go on env.
func (d *Deployment) Supports(sys harness.System, f harness.Fault) bool {
	if _, ok := sys.(harness.GoNode); !ok {
		return false
	}
	switch f {
	case harness.FaultPartition, harness.FaultKill, harness.FaultPause, harness.FaultClock,
		harness.FaultLoss, harness.FaultLatency, FaultMessage:
		return true
	}
	return false
}

type worldKey struct{}

// pollCancel is how often the world looks at the caller's context: a
// cancellation from outside a bubble cannot wake one, so it is polled on
// the world's clock.
const pollCancel = 100 * time.Millisecond

// Enclose runs run in a new bubble and world seeded with the run's seed.
func (d *Deployment) Enclose(ctx context.Context, run func(ctx context.Context)) error {
	return sim.RunContext(ctx, func() {
		w := sim.New(sim.Options{Seed: d.opt.Seed, Latency: d.opt.Latency})
		inner, cancel := context.WithCancel(context.WithoutCancel(ctx))
		inner = env.WithNetwork(context.WithValue(inner, worldKey{}, w), w.Client())
		done := make(chan struct{})
		go func() {
			t := time.NewTicker(pollCancel)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					if ctx.Err() != nil {
						cancel()
						return
					}
				}
			}
		}()
		run(inner)
		close(done)
		cancel()
		w.Close()
	})
}

// World is the simulated world of the run ctx belongs to (nil outside one).
func World(ctx context.Context) *sim.World {
	w, _ := ctx.Value(worldKey{}).(*sim.World)
	return w
}

// Deploy starts the cluster's nodes in the world of ctx.
func (d *Deployment) Deploy(ctx context.Context, spec harness.ClusterSpec) (harness.Cluster, error) {
	w := World(ctx)
	if w == nil {
		return nil, errors.New("sim: Deploy runs inside the deployment's enclosure (harness.Run enters it); it was called outside")
	}
	gn, ok := spec.System.(harness.GoNode)
	if !ok {
		return nil, fmt.Errorf("sim: %s is not a Go node written against package env (harness.GoNode): the sim deployment runs nodes in the harness's process; docs/simulation.md says how to move a node onto env", spec.System.Name())
	}
	if mc, ok := spec.System.(harness.MessageClassifier); ok {
		w.SetClassify(func(from, to string, seg []byte) []string { return mc.MessageKinds(seg) })
	}
	c := &Cluster{w: w, sys: spec.System, gn: gn, spec: spec, byID: map[string]*node{}, log: spec.Log}
	ports := harness.PortsOf(spec.System)
	portOf := func(name string) int {
		for i, p := range ports {
			if p == name {
				return 7001 + i
			}
		}
		return 0
	}
	peerPort := PortOfPeers(ports)
	ids := make([]string, spec.Nodes)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%d", i+1)
	}
	if spec.Nodes < 1 || spec.Nodes > 250 {
		return nil, fmt.Errorf("sim: %d nodes: want 1 to 250", spec.Nodes)
	}
	// Loopback addresses that nothing on the machine serves: a client
	// that dials around the world's network is refused, never misrouted.
	ipOf := func(i int) string { return fmt.Sprintf("127.77.0.%d", i+1) }
	for i, id := range ids {
		w.AddNode(id, ipOf(i))
	}
	for i, id := range ids {
		ip := ipOf(i)
		ns := harness.NodeSpec{ID: id, Ports: map[string]string{}, Peers: map[string]string{},
			DataDir: "/data/" + id, Bug: spec.Bug}
		for _, p := range ports {
			ns.Ports[p] = fmt.Sprintf("%s:%d", ip, portOf(p))
		}
		ns.Listen = ns.Ports[harness.PortClient]
		ns.PeerListen = ns.Ports[harness.PortPeer]
		for j, peer := range ids {
			ns.Peers[peer] = fmt.Sprintf("%s:%d", ipOf(j), portOf(peerPort))
		}
		l, err := spec.System.Launch(ctx, ns)
		if err != nil {
			return nil, fmt.Errorf("sim: launch of %s: %w", id, err)
		}
		logPath := filepath.Join(spec.Dir, harness.NodesDir, id, "node.log")
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		n := &node{id: id, spec: ns, launch: l, logPath: logPath, logFile: f}
		c.nodes = append(c.nodes, n)
		c.byID[id] = n
	}
	for _, n := range c.nodes {
		if err := c.start(n); err != nil {
			_ = c.Close(ctx)
			return nil, err
		}
	}
	return c, nil
}

// PortOfPeers is the port name peers reach a node at: its peer port if the
// system names one, else its client port.
func PortOfPeers(ports []string) string {
	for _, p := range ports {
		if p == harness.PortPeer {
			return p
		}
	}
	return harness.PortClient
}
