package simdeploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/sim"
)

// Cluster is a running simulated cluster.
type Cluster struct {
	w    *sim.World
	sys  harness.System
	gn   harness.GoNode
	spec harness.ClusterSpec
	log  harness.Logger

	nodes []*node
	byID  map[string]*node

	closeOnce sync.Once
	mu        sync.Mutex
	closed    bool // Close began: nothing starts any more
}

var (
	_ harness.Cluster      = (*Cluster)(nil)
	_ harness.NodeReporter = (*Cluster)(nil)
	_ harness.LeaderFinder = (*Cluster)(nil)
)

// node is one member: its launch and its current incarnation's goroutine.
type node struct {
	id      string
	spec    harness.NodeSpec
	launch  harness.Launch
	logPath string
	logFile *os.File

	mu     sync.Mutex
	cancel context.CancelFunc // nil while down
	done   chan struct{}
	exit   string // how the last incarnation ended
}

// stopWait bounds the wait for a node's goroutines to return after its
// context ended (virtual time: cheap, and a node that ignores its context
// for this long is reported).
const stopWait = 30 * time.Second

// World is the cluster's simulated world (for the simulation's faults).
func (c *Cluster) World() *sim.World { return c.w }

func (c *Cluster) Nodes() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.id
	}
	return out
}

func (c *Cluster) ClientAddr(id string) string {
	if n, ok := c.byID[id]; ok {
		return n.spec.Listen
	}
	return ""
}

// Node is node with its ports, as the node listens on them.
func (c *Cluster) Node(id string) harness.Node {
	if n, ok := c.byID[id]; ok {
		return harness.Node{ID: id, Ports: maps.Clone(n.spec.Ports)}
	}
	return harness.Node{ID: id, Ports: map[string]string{}}
}

func (c *Cluster) Supports(f harness.Fault) bool {
	return (&Deployment{}).Supports(c.sys, f)
}

func (c *Cluster) node(id string) (*node, error) {
	n, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("sim: no node %q (nodes: %s)", id, strings.Join(c.Nodes(), ", "))
	}
	return n, nil
}

// start boots a new incarnation of n.
func (c *Cluster) start(n *node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel != nil {
		return nil // running
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		// A fault's late restart (a crashed node's supervisor) after the
		// cluster was torn down: nothing may run past the world's end.
		return fmt.Errorf("sim: %s not started: the cluster is closed", n.id)
	}
	e, err := c.w.Start(n.id)
	if err != nil {
		return err
	}
	if err := nodes.WriteLaunchFiles(e, n.spec.DataDir, n.launch.Files); err != nil {
		return fmt.Errorf("sim: launch files of %s: %w", n.id, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n.cancel, n.done, n.exit = cancel, done, ""
	fmt.Fprintf(n.logFile, "--- sim: %s starts at %s\n", n.id, time.Now().UTC().Format(time.RFC3339Nano))
	go func() {
		defer close(done)
		status := c.run(ctx, e, n)
		n.mu.Lock()
		n.exit = status
		if n.done == done {
			n.cancel = nil
		}
		n.mu.Unlock()
	}()
	return nil
}

// run is one incarnation's main; a panic is its crash.
func (c *Cluster) run(ctx context.Context, e env.Env, n *node) (status string) {
	defer func() {
		if v := recover(); v != nil {
			status = fmt.Sprintf("panicked: %v", v)
			fmt.Fprintf(n.logFile, "--- sim: %s %s\n", n.id, status)
		}
	}()
	code := c.gn.RunNode(ctx, e, n.launch, n.logFile, n.logFile)
	return fmt.Sprintf("exited with status %d", code)
}

// halt ends n's incarnation: crash (power loss: unsynced writes are lost)
// or a clean stop; then waits for its goroutines.
func (c *Cluster) halt(n *node, crash bool) error {
	n.mu.Lock()
	cancel, done := n.cancel, n.done
	n.cancel = nil
	n.mu.Unlock()
	if cancel == nil {
		return nil
	}
	if crash {
		c.w.Crash(n.id)
		fmt.Fprintf(n.logFile, "--- sim: %s crashed at %s\n", n.id, time.Now().UTC().Format(time.RFC3339Nano))
	}
	cancel()
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.w.Crash(n.id)
		return fmt.Errorf("sim: node %s did not return within %s of its context ending", n.id, stopWait)
	}
	if !crash {
		c.w.Stop(n.id)
	}
	return nil
}

// Start starts a node that is down; a running node is left alone.
func (c *Cluster) Start(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	return c.start(n)
}

// Kill crashes the node as a power loss would: what it wrote but did not
// sync is lost, its connections break.
func (c *Cluster) Kill(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	return c.halt(n, true)
}

// Stop ends the node cleanly (its context is cancelled, as SIGTERM would).
func (c *Cluster) Stop(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	return c.halt(n, false)
}

// Pause freezes the node's timers and traffic (SIGSTOP).
func (c *Cluster) Pause(ctx context.Context, id string) error {
	if _, err := c.node(id); err != nil {
		return err
	}
	c.w.Pause(id)
	return nil
}

// Resume undoes Pause.
func (c *Cluster) Resume(ctx context.Context, id string) error {
	if _, err := c.node(id); err != nil {
		return err
	}
	c.w.Resume(id)
	return nil
}

func (c *Cluster) Partition(ctx context.Context, g harness.Grudge) error {
	c.w.Partition(g)
	return nil
}

func (c *Cluster) Netem(ctx context.Context, f harness.LinkFault) error {
	c.w.Degrade(sim.LinkFault{Latency: f.Latency, Jitter: f.Jitter, Loss: f.Loss, Links: f.Links})
	return nil
}

func (c *Cluster) Heal(ctx context.Context) error {
	c.w.Heal()
	return nil
}

// SetClock offsets the node's clock: through the system's own debug API if
// it has one (as on every other deployment, so a run means the same here),
// else the world's clock of the node.
func (c *Cluster) SetClock(ctx context.Context, id string, offset time.Duration) error {
	if _, err := c.node(id); err != nil {
		return err
	}
	if harness.Has(c.sys, harness.CapClock) {
		return harness.SetClockOf(ctx, c.sys, c.Node(id), offset)
	}
	return c.w.SetClock(id, offset)
}

// CollectLogs copies each node's log to dir/<node>/node.log (a no-op for
// the run's own folder, where the logs are written).
func (c *Cluster) CollectLogs(ctx context.Context, dir string) error {
	var errs []error
	for _, n := range c.nodes {
		dst := filepath.Join(dir, n.id, "node.log")
		if filepath.Clean(dst) == filepath.Clean(n.logPath) {
			continue
		}
		b, err := os.ReadFile(n.logPath)
		if err == nil {
			err = os.MkdirAll(filepath.Dir(dst), 0o755)
		}
		if err == nil {
			err = os.WriteFile(dst, b, 0o644)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sim: logs of %s: %w", n.id, err))
		}
	}
	return errors.Join(errs...)
}

// Close stops every node and ends the world's network.
func (c *Cluster) Close(ctx context.Context) error {
	var errs []error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		for _, n := range c.nodes {
			errs = append(errs, c.halt(n, false))
		}
		c.w.Close()
		for _, n := range c.nodes {
			errs = append(errs, n.logFile.Close())
		}
	})
	return errors.Join(errs...)
}

// Leader is the node the cluster names as leader (harness.Leader's rule).
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	return harness.Leader(ctx, c.sys, c)
}

// Exited describes how the node's last incarnation ended; "" while it runs.
func (c *Cluster) Exited(ctx context.Context, id string) string {
	n, ok := c.byID[id]
	if !ok {
		return "never started"
	}
	n.mu.Lock()
	running, exit := n.cancel != nil, n.exit
	n.mu.Unlock()
	if running && exit == "" {
		return ""
	}
	if exit == "" {
		exit = "stopped"
	}
	return fmt.Sprintf("%s; end of %s:\n%s", exit, n.logPath, c.LogTail(id, 10))
}

// LogTail is the last lines of the node's log.
func (c *Cluster) LogTail(id string, lines int) string {
	n, ok := c.byID[id]
	if !ok {
		return ""
	}
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return ""
	}
	ls := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return string(bytes.Join(ls, []byte("\n")))
}
