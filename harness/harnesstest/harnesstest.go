// Package harnesstest is an in-memory cluster for testing what runs on the
// harness (fault packages, registries, programs that drive harness.Run)
// without processes, containers or a network. It works the way
// hashicorp/raft's InmemTransport does for raft: the real interfaces,
// backed by memory and open to inspection.
//
//   - Cluster records every call made to it (Calls) and keeps the state the
//     calls leave: the partition, the link fault, the clocks, the killed
//     and paused nodes. It names LeaderID as its leader (harness.LeaderFinder).
//   - Deployment makes Clusters.
//   - System is a register store (read, write, cas) that every node
//     shares, and so is always linearizable. Its knobs make it fail reads, answer info or diverge.
//
// The harness's own tests keep private fakes for now: they are in package
// harness, which this package imports (see docs/architecture.md, "where the
// vocabulary is going").
package harnesstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Cluster is an in-memory harness.Cluster with nodes n1…nN. Every method
// records its call. The fields hold what the calls left; tests read them
// once the calls have returned.
type Cluster struct {
	mu    sync.Mutex
	nodes []string

	LeaderID    string        // the node Leader names; "" = no leader (an error)
	Unsupported harness.Fault // the one fault Supports refuses, if set
	FailAll     bool          // every fault call fails (after it is recorded)

	Calls  []string                 // "kill n2", "partition n1 drops {n2}", "heal", …
	Grudge harness.Grudge           // the partition in force (nil after Heal)
	Link   harness.LinkFault        // the link fault in force
	Clocks map[string]time.Duration // clock offsets set
	Down   map[string]bool          // killed or stopped and not started again
	Paused map[string]bool          // paused and not resumed

	Collects, Closes atomic.Int32
}

// NewCluster is a cluster of n nodes, n1…nN, led by leader ("" for none).
func NewCluster(n int, leader string) *Cluster {
	c := &Cluster{LeaderID: leader, Clocks: map[string]time.Duration{}, Down: map[string]bool{}, Paused: map[string]bool{}}
	for i := 1; i <= n; i++ {
		c.nodes = append(c.nodes, fmt.Sprintf("n%d", i))
	}
	return c
}

// ErrInjected is what every fault call returns when FailAll is set.
var ErrInjected = errors.New("injected failure")

// do records a call and applies what it changes, under the lock.
func (c *Cluster) do(change func(), format string, args ...any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls = append(c.Calls, fmt.Sprintf(format, args...))
	if change != nil {
		change()
	}
	if c.FailAll {
		return ErrInjected
	}
	return nil
}

// SetFailAll sets FailAll while calls may be under way.
func (c *Cluster) SetFailAll(fail bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.FailAll = fail
}

// CallsSoFar is a copy of Calls, safe while calls are still being made.
func (c *Cluster) CallsSoFar() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.Calls)
}

func (c *Cluster) Nodes() []string               { return slices.Clone(c.nodes) }
func (c *Cluster) ClientAddr(node string) string { return node }

// Node gives every node a "monitor" port besides its client port, as a
// product with a status page of its own has.
func (c *Cluster) Node(node string) harness.Node {
	return harness.Node{ID: node, Ports: map[string]string{harness.PortClient: node, "monitor": node + "/monitor"}}
}

func (c *Cluster) Supports(f harness.Fault) bool { return f != c.Unsupported }

func (c *Cluster) Start(_ context.Context, n string) error {
	return c.do(func() { delete(c.Down, n) }, "start %s", n)
}
func (c *Cluster) Kill(_ context.Context, n string) error {
	return c.do(func() { c.Down[n] = true }, "kill %s", n)
}
func (c *Cluster) Stop(_ context.Context, n string) error {
	return c.do(func() { c.Down[n] = true }, "stop %s", n)
}
func (c *Cluster) Pause(_ context.Context, n string) error {
	return c.do(func() { c.Paused[n] = true }, "pause %s", n)
}
func (c *Cluster) Resume(_ context.Context, n string) error {
	return c.do(func() { delete(c.Paused, n) }, "resume %s", n)
}
func (c *Cluster) Partition(_ context.Context, g harness.Grudge) error {
	return c.do(func() { c.Grudge = g }, "partition %s", g)
}
func (c *Cluster) Netem(_ context.Context, f harness.LinkFault) error {
	return c.do(func() { c.Link = f }, "netem %+v", f)
}
func (c *Cluster) Heal(context.Context) error {
	return c.do(func() { c.Grudge, c.Link = nil, harness.LinkFault{} }, "heal")
}
func (c *Cluster) SetClock(_ context.Context, n string, d time.Duration) error {
	return c.do(func() { c.Clocks[n] = d }, "clock %s %s", n, d)
}

// CollectLogs makes each node's folder under dir, as a deployment does.
func (c *Cluster) CollectLogs(_ context.Context, dir string) error {
	c.Collects.Add(1)
	for _, n := range c.nodes {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) Close(context.Context) error {
	c.Closes.Add(1)
	return nil
}

// Leader names LeaderID (harness.LeaderFinder).
func (c *Cluster) Leader(context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.LeaderID == "" {
		return "", errors.New("no leader")
	}
	return c.LeaderID, nil
}

// Deployment deploys Clusters; Cluster is the last one made.
type Deployment struct {
	DeployName  string        // Name(); "mem" if empty
	Unsupported harness.Fault // refused by Supports and by the clusters
	Err         error         // Deploy returns it, with the cluster (Close must still clean up)

	mu      sync.Mutex
	cluster *Cluster
}

func (d *Deployment) Name() string {
	if d.DeployName == "" {
		return "mem"
	}
	return d.DeployName
}
func (d *Deployment) Supports(_ harness.System, f harness.Fault) bool { return f != d.Unsupported }

func (d *Deployment) Deploy(_ context.Context, spec harness.ClusterSpec) (harness.Cluster, error) {
	c := NewCluster(spec.Nodes, "")
	c.Unsupported = d.Unsupported
	d.mu.Lock()
	d.cluster = c
	d.mu.Unlock()
	return c, d.Err
}

// Cluster is the cluster Deploy made last (nil before).
func (d *Deployment) Cluster() *Cluster {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cluster
}
