package ssh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Cluster is a running ssh cluster: one node per host.
type Cluster struct {
	spec   harness.ClusterSpec
	log    harness.Logger
	file   *HostsFile
	nodes  []*node
	byID   map[string]*node
	shared bool
	runDir string // gauntlet-<run>, under each host's data dir

	faultMu sync.Mutex // one network change at a time
	grudge  harness.Grudge
	link    harness.LinkFault

	closeOnce sync.Once
	closeErr  error
}

var (
	_ harness.Cluster      = (*Cluster)(nil)
	_ harness.LeaderFinder = (*Cluster)(nil)
)

type node struct {
	id     string
	host   *Host
	key    string // inUse key
	conn   *conn
	probe  probe
	dir    string // on the host: data/, node.log, pid
	bin    string // on the host
	launch harness.Launch
	client string // where the harness's clients reach it
	// ports: where the harness reaches each port the system names (client
	// included), at the host's client address.
	ports map[string]string
}

func (c *Cluster) Nodes() []string { return nodes.IDs(c.nodes, func(n *node) string { return n.id }) }

func (c *Cluster) ClientAddr(id string) string {
	if n, ok := c.byID[id]; ok {
		return n.client
	}
	return ""
}

// Node is node with the address the harness reaches each of its ports at.
func (c *Cluster) Node(id string) harness.Node {
	if n, ok := c.byID[id]; ok {
		return harness.Node{ID: id, Ports: maps.Clone(n.ports)}
	}
	return harness.Node{ID: id, Ports: map[string]string{}}
}

func (c *Cluster) Supports(f harness.Fault) bool {
	switch f {
	case harness.FaultPartition, harness.FaultKill, harness.FaultPause, harness.FaultLoss:
		return true
	case harness.FaultClock:
		return clockSupported(c.spec.System)
	case harness.FaultLatency:
		for _, n := range c.nodes {
			if n.probe.netem != "ok" || n.probe.dev == "" {
				return false
			}
		}
		return true
	}
	return false
}

func (c *Cluster) node(id string) (*node, error) {
	n, ok := c.byID[id]
	if !ok || n.conn == nil {
		return nil, fmt.Errorf("ssh: no node %q (nodes: %s)", id, strings.Join(c.Nodes(), ", "))
	}
	return n, nil
}

// start runs the node unless it is up already (Start of a running node is
// a no-op, as in the other deployments).
func (c *Cluster) start(ctx context.Context, n *node) error {
	out, err := n.conn.fast(ctx, aliveScript(n.dir, n.bin))
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) == "up" {
		return nil
	}
	out, err = n.conn.fast(ctx, "mkdir -p "+quote(n.dir)+" && "+startScript(n.dir, n.bin, n.launch))
	if err != nil {
		return fmt.Errorf("ssh: start %s on %s: %w", n.id, n.host, err)
	}
	c.log.Debug("ssh: node started", "node", n.id, "host", n.host.String(), "pid", strings.TrimSpace(out))
	return nil
}

func (c *Cluster) Start(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	return c.start(ctx, n)
}

// signal sends sig to node id's process; with wait, until it is gone.
func (c *Cluster) signal(ctx context.Context, id, sig string, wait bool) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if _, err := n.conn.fast(ctx, signalScript(n.dir, n.bin, sig, wait)); err != nil {
		return fmt.Errorf("ssh: %s %s: %w", sig, id, err)
	}
	return nil
}

func (c *Cluster) Kill(ctx context.Context, id string) error { return c.signal(ctx, id, "KILL", true) }
func (c *Cluster) Pause(ctx context.Context, id string) error {
	return c.signal(ctx, id, "STOP", false)
}
func (c *Cluster) Resume(ctx context.Context, id string) error {
	return c.signal(ctx, id, "CONT", false)
}

// Stop sends SIGTERM (after SIGCONT: a paused node cannot exit), waits up
// to 5 s, then SIGKILLs.
func (c *Cluster) Stop(ctx context.Context, id string) error {
	if err := c.signal(ctx, id, "CONT", false); err != nil {
		return err
	}
	if err := c.signal(ctx, id, "TERM", true); err != nil {
		return c.Kill(ctx, id)
	}
	return nil
}

// Partition replaces any previous partition: g[a] containing b drops, on
// a's host, every packet from b's address.
func (c *Cluster) Partition(ctx context.Context, g harness.Grudge) error {
	for a, bs := range g {
		for _, x := range append([]string{a}, bs...) {
			if _, ok := c.byID[x]; !ok {
				return fmt.Errorf("ssh: partition: unknown node %q", x)
			}
		}
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	return c.applyNft(ctx, g, c.link)
}

// Netem replaces any previous link fault: loss with nftables, latency with
// netem (where every host has it).
func (c *Cluster) Netem(ctx context.Context, f harness.LinkFault) error {
	if f.Loss < 0 || f.Loss > 1 || f.Latency < 0 || f.Jitter < 0 {
		return fmt.Errorf("ssh: link fault %+v: want loss in [0,1] and no negative delay", f)
	}
	if f.Latency > 0 && !c.Supports(harness.FaultLatency) {
		return fmt.Errorf("ssh: latency needs netem (and tc) on every host: %w", harness.ErrUnsupported)
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	if err := c.applyNft(ctx, c.grudge, f); err != nil {
		return err
	}
	if err := c.applyDelay(ctx, f); err != nil {
		return err
	}
	c.link = f
	return nil
}

// Heal removes partitions and link faults.
func (c *Cluster) Heal(ctx context.Context) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	err := c.applyNft(ctx, nil, harness.LinkFault{})
	if c.link.Latency > 0 {
		err = errors.Join(err, c.applyDelay(ctx, harness.LinkFault{}))
	}
	c.link = harness.LinkFault{}
	return err
}

// applyNft makes every host's table say g and f's loss, in parallel, one
// nft transaction per host. Called with faultMu held.
func (c *Cluster) applyNft(ctx context.Context, g harness.Grudge, f harness.LinkFault) error {
	start := time.Now()
	eg, ectx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		script := nftScript(c.ips(g[n.id]), f.Loss, c.ips(c.lossTargets(n.id, f)))
		eg.Go(func() error {
			if _, err := n.conn.fast(ectx, n.conn.root("nft -f -")+" <<'__GAUNTLET_NFT'\n"+script+"__GAUNTLET_NFT"); err != nil {
				return fmt.Errorf("ssh: nftables on %s: %w", n.host, err)
			}
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	c.grudge = g
	c.log.Debug("ssh: nftables applied", "grudge", g.String(), "loss", f.Loss, "elapsed", time.Since(start).Round(time.Microsecond))
	return nil
}

// lossTargets are the nodes whose links from id lose packets: f.Links[id],
// or every other node. Never the harness: its clients see the cluster as is.
func (c *Cluster) lossTargets(id string, f harness.LinkFault) []string {
	if f.Links != nil {
		return f.Links[id]
	}
	var out []string
	for _, n := range c.nodes {
		if n.id != id {
			out = append(out, n.id)
		}
	}
	return out
}

func (c *Cluster) ips(ids []string) []net.IP {
	var out []net.IP
	for _, id := range ids {
		if n, ok := c.byID[id]; ok {
			out = append(out, n.host.peerIP)
		}
	}
	return out
}

// applyDelay puts (or, for zero latency, removes) a netem qdisc on each
// host's interface towards its peers, only for packets to the peers.
func (c *Cluster) applyDelay(ctx context.Context, f harness.LinkFault) error {
	eg, ectx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		var to []net.IP
		if f.Latency > 0 {
			to = c.ips(c.lossTargets(n.id, f))
		}
		script := tcScript(n.conn.root("tc"), n.probe.dev, f.Latency, f.Jitter, to)
		eg.Go(func() error {
			if _, err := n.conn.fast(ectx, script); err != nil {
				return fmt.Errorf("ssh: netem on %s: %w", n.host, err)
			}
			return nil
		})
	}
	return eg.Wait()
}

// SetClock offsets node's clock through the system's clock API.
func (c *Cluster) SetClock(ctx context.Context, id string, offset time.Duration) error {
	if _, err := c.node(id); err != nil {
		return err
	}
	return setClock(ctx, c.spec.System, c.Node(id), offset)
}

// Leader is the node the cluster names as leader (harness.Leader's rule).
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	return harness.Leader(ctx, c.spec.System, c)
}

// CollectLogs copies each node's log to dir/<node>/node.log and its data
// directory to dir/<node>/data.tar.
func (c *Cluster) CollectLogs(ctx context.Context, dir string) error {
	eg, ectx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		if n.conn == nil {
			continue
		}
		eg.Go(func() error {
			err := fetch(ectx, n.conn, "cat "+quote(n.dir+"/node.log"), filepath.Join(dir, n.id, "node.log"))
			if err == nil {
				err = fetch(ectx, n.conn, "tar -C "+quote(n.dir)+" -cf - data", filepath.Join(dir, n.id, "data.tar"))
			}
			if err != nil {
				return fmt.Errorf("ssh: logs of %s from %s: %w", n.id, n.host, err)
			}
			return nil
		})
	}
	return eg.Wait()
}

// closeTimeout bounds the teardown of every host.
const closeTimeout = time.Minute

// Close kills every node, removes the run's table, qdisc and folder from
// each host and disconnects. It is idempotent and works on a half-made
// cluster; ctx may be done already (teardown after Ctrl-C).
func (c *Cluster) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, len(c.nodes))
		for i, n := range c.nodes {
			wg.Go(func() {
				defer inUse.Delete(n.key)
				if n.conn == nil {
					return
				}
				_, errs[i] = sweep(ctx, n.conn, c.runDir)
				n.conn.close()
			})
		}
		wg.Wait()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

func joinHostPort(h string, p int) string { return net.JoinHostPort(h, strconv.Itoa(p)) }

func clone(m map[string]string) map[string]string { return maps.Clone(m) }
