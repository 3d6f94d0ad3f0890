package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

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
)

type node struct {
	id         string
	listen     string // clients and (except SharedPeers) peers
	peerListen string // SharedPeers systems only
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
func (c *Cluster) Nodes() []string {
	ids := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		ids[i] = n.id
	}
	return ids
}

// ClientAddr is where clients reach node (directly, not through the mesh).
func (c *Cluster) ClientAddr(id string) string {
	if n, ok := c.byID[id]; ok {
		return n.listen
	}
	return ""
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
		return clockSupported(c.spec.System)
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

// Netem replaces any previous link fault.
func (c *Cluster) Netem(ctx context.Context, f harness.LinkFault) error {
	if err := c.networkFaults("link faults"); err != nil {
		return err
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
	n, err := c.node(id)
	if err != nil {
		return err
	}
	return c.spec.System.SetClock(ctx, n.listen, offset)
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

// closeGrace is how long Close lets nodes exit on SIGTERM before SIGKILL.
const closeGrace = 3 * time.Second

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

// statuses asks every node about itself, in parallel.
func (c *Cluster) statuses(ctx context.Context) ([]harness.NodeStatus, []error) {
	sts := make([]harness.NodeStatus, len(c.nodes))
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			sts[i], errs[i] = c.spec.System.Status(sctx, n.listen)
		})
	}
	wg.Wait()
	return sts, errs
}

// Leader returns the node that a majority of the cluster names as leader
// (and that says so itself, if it answers).
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	sts, errs := c.statuses(ctx)
	return majorityLeader(c.Nodes(), sts, errs)
}

func majorityLeader(ids []string, sts []harness.NodeStatus, errs []error) (string, error) {
	votes := map[string]int{}
	for i, st := range sts {
		if errs[i] != nil {
			continue
		}
		l := st.Leader
		if st.Role == "leader" {
			l = ids[i]
		}
		if l != "" {
			votes[l]++
		}
	}
	for i, st := range sts {
		// A leader that answers and does not think it leads is not one.
		if errs[i] == nil && st.Role != "leader" {
			delete(votes, ids[i])
		}
	}
	var names []string
	for l := range votes {
		names = append(names, l)
	}
	sort.Strings(names)
	for _, l := range names {
		if votes[l] > len(ids)/2 {
			return l, nil
		}
	}
	if len(names) == 0 {
		return "", errors.New("local: no node names a leader")
	}
	var seen []string
	for _, l := range names {
		seen = append(seen, fmt.Sprintf("%s:%d", l, votes[l]))
	}
	return "", fmt.Errorf("local: no leader named by a majority of %d nodes (votes: %s)", len(ids), strings.Join(seen, " "))
}

// WaitHealthy waits until every node answers Status and, for a system with
// leaders, all name the same leader. A node whose process exited fails it
// at once, with the end of its log.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	for {
		for _, n := range c.nodes {
			if n.proc == nil {
				return fmt.Errorf("local: %s was never started", n.id)
			}
			if st := n.proc.exitStatus(); st != "" {
				return fmt.Errorf("local: %s exited (%s); end of %s:\n%s", n.id, st, n.proc.logPath, n.proc.logTail(10))
			}
		}
		sts, errs := c.statuses(ctx)
		problem := healthProblem(c.Nodes(), sts, errs)
		if problem == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("local: cluster not healthy (%s): %w", problem, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// healthProblem says what keeps the cluster from being healthy, "" if
// nothing.
func healthProblem(ids []string, sts []harness.NodeStatus, errs []error) string {
	var down []string
	leaderBased := false
	leaders := map[string]bool{}
	for i, st := range sts {
		if errs[i] != nil {
			down = append(down, fmt.Sprintf("%s: %v", ids[i], errs[i]))
			continue
		}
		switch st.Role {
		case "leader", "follower", "candidate":
			leaderBased = true
			if st.Role == "leader" {
				leaders[ids[i]] = true
			} else {
				leaders[st.Leader] = true
			}
		}
	}
	if len(down) > 0 {
		return "not answering: " + strings.Join(down, "; ")
	}
	if !leaderBased {
		return ""
	}
	if len(leaders) != 1 || leaders[""] {
		var ls []string
		for l := range leaders {
			if l == "" {
				l = "none"
			}
			ls = append(ls, l)
		}
		sort.Strings(ls)
		return "no agreed leader (named: " + strings.Join(ls, ", ") + ")"
	}
	return ""
}
