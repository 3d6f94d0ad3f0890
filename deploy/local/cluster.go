package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Cluster is a running local cluster. It implements harness.Cluster and
// harness.LeaderFinder, and offers WaitHealthy.
type Cluster struct {
	spec   harness.ClusterSpec
	log    harness.Logger
	mesh   *mesh
	nodes  []*node
	byID   map[string]*node
	shared bool
	spawn  *spawner

	closeOnce sync.Once
	closeErr  error
}

var (
	_ harness.Cluster      = (*Cluster)(nil)
	_ harness.LeaderFinder = (*Cluster)(nil)
	_ harness.NodeReporter = (*Cluster)(nil)
)

type node struct {
	id         string
	listen     string            // clients (and peers, for a system without a peer port)
	peerListen string            // the peer port, for a system that names one
	ports      map[string]string // every port the system names -> host:port
	proc       *proc
	reserved   []net.Listener // hold the node's ports until it starts
}

// release frees the node's reserved ports for it to bind.
func (n *node) release() {
	for _, ln := range n.reserved {
		ln.Close()
	}
	n.reserved = nil
}

// Nodes lists node names in order.
func (c *Cluster) Nodes() []string { return nodes.IDs(c.nodes, func(n *node) string { return n.id }) }

// ClientAddr is where clients reach node (directly, not through the mesh).
func (c *Cluster) ClientAddr(id string) string {
	if n, ok := c.byID[id]; ok {
		return n.listen
	}
	return ""
}

// Node is node with its ports, as the node listens on them.
func (c *Cluster) Node(id string) harness.Node {
	if n, ok := c.byID[id]; ok {
		return harness.Node{ID: id, Ports: maps.Clone(n.ports)}
	}
	return harness.Node{ID: id, Ports: map[string]string{}}
}

// PID is the process id of node's running process, 0 if it is down.
func (c *Cluster) PID(id string) int {
	n, ok := c.byID[id]
	if !ok || n.proc == nil {
		return 0
	}
	return n.proc.pid()
}

// Supports tells which faults this cluster can make.
func (c *Cluster) Supports(f harness.Fault) bool {
	switch f {
	case harness.FaultKill, harness.FaultPause:
		return true
	case harness.FaultPartition, harness.FaultLoss, harness.FaultLatency:
		return !c.shared
	case harness.FaultClock:
		return harness.Has(c.spec.System, harness.CapClock)
	}
	return false
}

func (c *Cluster) node(id string) (*node, error) {
	n, ok := c.byID[id]
	if !ok || n.proc == nil {
		return nil, fmt.Errorf("local: no node %q (nodes: %s)", id, strings.Join(c.Nodes(), ", "))
	}
	return n, nil
}

// Start starts a node that is down (killed, stopped or crashed) with the
// same arguments and data directory; a running node is left alone.
func (c *Cluster) Start(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := n.proc.start(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// Kill SIGKILLs the node and waits until it is gone.
func (c *Cluster) Kill(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := n.proc.kill(ctx); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// Stop sends SIGTERM and waits up to 10 s, then SIGKILLs.
func (c *Cluster) Stop(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := n.proc.stop(ctx, stopGrace); err != nil {
		return fmt.Errorf("local: stop: %w", err)
	}
	return nil
}

// Pause SIGSTOPs the node.
func (c *Cluster) Pause(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := n.proc.pause(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

// Resume SIGCONTs the node (a node that is down is left down).
func (c *Cluster) Resume(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := n.proc.resume(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	return nil
}

func (c *Cluster) networkFaults(what string) error {
	if c.shared {
		return fmt.Errorf("local: %s for %s, whose members share one peer map: %w", what, c.spec.System.Name(), harness.ErrUnsupported)
	}
	return nil
}

// Partition replaces any previous partition: g[a] containing b cuts b->a.
func (c *Cluster) Partition(ctx context.Context, g harness.Grudge) error {
	if err := c.networkFaults("partition"); err != nil {
		return err
	}
	for a, bs := range g {
		if _, ok := c.byID[a]; !ok {
			return fmt.Errorf("local: partition: unknown node %q", a)
		}
		for _, b := range bs {
			if _, ok := c.byID[b]; !ok {
				return fmt.Errorf("local: partition: unknown node %q", b)
			}
		}
	}
	c.mesh.partition(g)
	return nil
}

// Netem replaces any previous link fault. Members that share one peer map
// have one proxy each, in front of the member: a fault on every link is
// made there (each message crosses one proxy), a fault on some links not.
func (c *Cluster) Netem(ctx context.Context, f harness.LinkFault) error {
	if f.Links != nil {
		if err := c.networkFaults("link faults on some links"); err != nil {
			return err
		}
	}
	if f.Loss < 0 || f.Loss > 1 {
		return fmt.Errorf("local: loss %v: want a probability in [0,1]", f.Loss)
	}
	if f.Latency < 0 || f.Jitter < 0 {
		return errors.New("local: latency and jitter must not be negative")
	}
	c.mesh.netem(f)
	return nil
}

// Heal removes partitions and link faults.
func (c *Cluster) Heal(ctx context.Context) error {
	c.mesh.heal()
	return nil
}

// SetClock offsets node's clock through the system's debug API.
func (c *Cluster) SetClock(ctx context.Context, id string, offset time.Duration) error {
	if _, err := c.node(id); err != nil {
		return err
	}
	return harness.SetClockOf(ctx, c.spec.System, c.Node(id), offset)
}

// CollectLogs copies each node's log to dir/<node>/node.log. Logs already
// live in <run>/nodes, so for the run's own directory this is a no-op.
func (c *Cluster) CollectLogs(ctx context.Context, dir string) error {
	var errs []error
	for _, n := range c.nodes {
		if n.proc == nil {
			continue
		}
		dst := filepath.Join(dir, n.id, "node.log")
		if same(dst, n.proc.logPath) {
			continue
		}
		if err := copyFile(n.proc.logPath, dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("local: logs of %s: %w", n.id, err))
		}
	}
	return errors.Join(errs...)
}

func same(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	aa, _ := filepath.Abs(a)
	ab, _ := filepath.Abs(b)
	return aa == ab
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// closeGrace is how long Close lets nodes exit on SIGTERM before SIGKILL:
// none. The run is over and its history recorded; a graceful stop would only
// make every teardown wait (etcd took 3 s of a 3 s grace every run).
const closeGrace = 0

// Close stops every node (SIGTERM, resumed if paused, SIGKILL after 3 s),
// waits for them and stops the proxies. It is idempotent.
func (c *Cluster) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		var wg sync.WaitGroup
		errs := make([]error, len(c.nodes))
		for i, n := range c.nodes {
			if n.proc == nil {
				continue
			}
			wg.Go(func() {
				// Not ctx: teardown after Ctrl-C gets a done context and
				// must still leave no process behind.
				errs[i] = n.proc.close(closeGrace)
			})
		}
		wg.Wait()
		for _, n := range c.nodes {
			n.release() // a half-made cluster may still hold some
		}
		c.spawn.close()
		c.mesh.close()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// Leader is the node the cluster names as leader (harness.Leader's rule).
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	return harness.Leader(ctx, c.spec.System, c)
}

// WaitHealthy waits until the cluster is healthy (harness.WaitHealthy's
// rule); a node whose process exited fails it at once, with the end of its
// log.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return harness.WaitHealthy(ctx, c.spec.System, c)
}

// Exited describes how node's process ended, with the end of its log; ""
// while it runs.
func (c *Cluster) Exited(ctx context.Context, id string) string {
	n, ok := c.byID[id]
	if !ok || n.proc == nil {
		return "never started"
	}
	st := n.proc.exitStatus()
	if st == "" {
		return ""
	}
	return fmt.Sprintf("%s; end of %s:\n%s", st, n.proc.logPath, n.proc.logTail(10))
}

// LogTail is the last lines of node's log.
func (c *Cluster) LogTail(id string, lines int) string {
	n, ok := c.byID[id]
	if !ok || n.proc == nil {
		return ""
	}
	return n.proc.logTail(lines)
}
