// Package ssh deploys a system's nodes on existing Linux hosts over SSH, as
// Jepsen does: one node per host, faults made on the hosts themselves.
//
// A hosts file (see HostsFile) lists the machines. Deploy connects to each
// (host keys checked against known_hosts), removes whatever an earlier run
// left there, checks the host offers what the faults need, uploads a static
// build of the node and starts it with setsid, recording its pid. Kill,
// stop and pause are signals to that pid (after checking the pid still runs
// our binary). Partitions and packet loss are an nftables table of ours on
// each host, replaced in one `nft -f` transaction per change; latency is a
// netem qdisc where the kernel has sch_netem (refused at configuration time,
// exit 64, where a host lacks it). Clock faults go through the system's
// clock API. Nothing but sshd, nft (and tc, for latency) is needed on a
// host: no agent, no helper binary.
//
// Why the nft command rather than uploading cmd/gauntlet-fault (which the
// docker deployment runs in its holders): a host already has the tool an
// operator reads and trusts, the exact script applied is logged and can be
// rerun by hand, and no second binary has to match each host's
// architecture. The cost is one SSH session and one nft process per host
// and change (tens of milliseconds, measured in the tests).
package ssh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Options configures the deployment.
type Options struct {
	Hosts  string // the hosts file (--hosts)
	Logger harness.Logger
	// CacheDir keeps built binaries; empty: <user cache>/gauntlet/ssh.
	CacheDir string
}

// Deployment is the ssh deployment; Open or New makes one.
type Deployment struct {
	opts Options
	file *HostsFile // read by Open; nil: read at first use

	mu      sync.Mutex
	netem   map[string]string // host -> why it has no netem ("" = has it); nil until probed
	probeOK bool
}

var _ harness.Deployment = (*Deployment)(nil)

// New returns the ssh deployment. It reads the hosts file and touches the
// hosts only when used.
func New(opts Options) *Deployment { return &Deployment{opts: opts} }

// Open reads and checks the hosts file first, so that a bad one is refused
// before a run starts (no host is contacted).
func Open(opts Options) (harness.Deployment, error) {
	f, err := LoadHosts(opts.Hosts)
	if err != nil {
		return nil, err
	}
	return &Deployment{opts: opts, file: f}, nil
}

// hosts is the hosts file, read now if Open did not.
func (d *Deployment) hosts() (*HostsFile, error) {
	if d.file != nil {
		return d.file, nil
	}
	return LoadHosts(d.opts.Hosts)
}

func (d *Deployment) Name() string { return "ssh" }

// Supports: partitions and loss need nft (checked at Deploy: a host
// without it is refused there, naming it); latency needs netem in every
// host's kernel, which is probed here, once, so that a test asking for it
// is refused before anything starts.
func (d *Deployment) Supports(sys harness.System, f harness.Fault) bool {
	switch f {
	case harness.FaultPartition, harness.FaultKill, harness.FaultPause, harness.FaultLoss:
		return true
	case harness.FaultClock:
		return clockSupported(sys)
	case harness.FaultLatency:
		return d.netemEverywhere()
	}
	return false
}

// netemEverywhere probes every host for netem. A host that cannot be
// reached counts as having it: Deploy then reports the real problem.
func (d *Deployment) netemEverywhere() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.netem == nil {
		d.netem = map[string]string{}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f, err := d.hosts()
		if err != nil {
			return true
		}
		for i := range f.Hosts {
			h := &f.Hosts[i]
			c, err := dial(ctx, f, h, d.logger(nil))
			if err != nil {
				continue
			}
			p, err := runProbe(ctx, c, h.PeerAddress)
			c.close()
			if err == nil && p.netem != "ok" {
				d.netem[h.String()] = p.netem
			}
		}
	}
	for h, why := range d.netem {
		d.logger(nil).Error("ssh: no latency faults: a host has no netem", "host", h, "why", why)
	}
	return len(d.netem) == 0
}

// logger is the run's logger, else the deployment's, else one that discards.
func (d *Deployment) logger(l harness.Logger) harness.Logger {
	return cmp.Or(l, d.opts.Logger, discard)
}

func (d *Deployment) cacheDir() string {
	if d.opts.CacheDir != "" {
		return d.opts.CacheDir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "gauntlet", "ssh")
}

// inUse keeps two clusters of this process off the same host folder (a
// campaign with --parallel over one hosts file): the second would sweep the
// first away. Across processes, a hosts file is one harness's at a time.
var inUse sync.Map // host + data dir -> run id

// Deploy connects to the first spec.Nodes hosts, sweeps what earlier runs
// left, checks nft on each, uploads the node and starts it. Problems with a
// host name it; those of the user's files (key, host key, no nft) are
// configuration errors (exit 64), an unreachable host is exit 3. On error
// everything made so far is removed.
func (d *Deployment) Deploy(ctx context.Context, spec harness.ClusterSpec) (_ harness.Cluster, err error) {
	log := d.logger(spec.Log)
	f, err := d.hosts()
	if err != nil {
		return nil, &harness.ConfigError{Err: err}
	}
	if spec.Nodes < 1 || spec.Nodes > len(f.Hosts) {
		return nil, &harness.ConfigError{Err: fmt.Errorf("--nodes %d, but %s lists %d hosts (one node per host)", spec.Nodes, d.opts.Hosts, len(f.Hosts))}
	}
	if spec.RunID == "" {
		spec.RunID = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	c := &Cluster{spec: spec, log: log, file: f, byID: map[string]*node{}, shared: sharedPeers(spec.System),
		runDir: "gauntlet-" + nodes.Sanitize(spec.RunID)}
	for i := range spec.Nodes {
		h := &f.Hosts[i]
		key := h.Address + " " + h.DataDir
		if other, busy := inUse.LoadOrStore(key, spec.RunID); busy {
			c.Close(context.WithoutCancel(ctx))
			return nil, &harness.ConfigError{Err: fmt.Errorf("host %s (%s) is in use by run %v of this process", h, h.DataDir, other)}
		}
		n := &node{id: fmt.Sprintf("n%d", i+1), host: h, key: key}
		n.dir = h.DataDir + "/" + c.runDir + "/" + n.id
		n.bin = h.DataDir + "/" + c.runDir + "/node"
		if h.NodeBinary != "" {
			n.bin = h.NodeBinary
		}
		c.nodes = append(c.nodes, n)
		c.byID[n.id] = n
	}
	defer func() {
		if err != nil {
			c.Close(context.WithoutCancel(ctx))
			var he *HostError
			if errors.As(err, &he) && he.Config {
				err = &harness.ConfigError{Err: err}
			}
		}
	}()
	start := time.Now()
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	log.Info("ssh: hosts ready", "hosts", len(c.nodes), "elapsed", time.Since(start).Round(time.Millisecond))
	bin := ""
	if c.needUpload() {
		if bin, err = nodeBinary(ctx, spec.System, c.nodes[0].probe.arch, d.cacheDir()); err != nil {
			return nil, err
		}
	}
	if err := c.startAll(ctx, bin); err != nil {
		return nil, err
	}
	log.Info("ssh: cluster started", "run", spec.RunID, "nodes", len(c.nodes), "elapsed", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// connect dials every host, sweeps leftovers and probes, in parallel.
func (c *Cluster) connect(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for i, n := range c.nodes {
		peer := c.nodes[(i+1)%len(c.nodes)].host.PeerAddress
		g.Go(func() error {
			cn, err := dial(gctx, c.file, n.host, c.log)
			if err != nil {
				return err
			}
			n.conn = cn
			// Everything but uploads goes through one shell on the host:
			// each new session would start the login shell again.
			if _, err := cn.fast(gctx, "true"); err != nil {
				return err
			}
			out, err := sweep(gctx, cn, "gauntlet-*")
			if err != nil {
				return err
			}
			if out = strings.TrimSpace(out); out != "" {
				c.log.Info("ssh: removed leftovers of earlier runs", "host", n.host.String(), "what", out)
			}
			if n.probe, err = runProbe(gctx, cn, peer); err != nil {
				return err
			}
			if n.probe.nft != "ok" {
				return &HostError{Host: n.host.String(), Config: true,
					Err: fmt.Errorf("nftables unusable, so no partitions or loss: %s", n.probe.nft)}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, n := range c.nodes[1:] {
		if n.probe.arch != c.nodes[0].probe.arch {
			return &HostError{Host: n.host.String(), Config: true,
				Err: fmt.Errorf("architecture %s differs from %s's %s (one binary serves all)", n.probe.arch, c.nodes[0].host, c.nodes[0].probe.arch)}
		}
	}
	return nil
}

func (c *Cluster) needUpload() bool {
	for _, n := range c.nodes {
		if n.host.NodeBinary == "" {
			return true
		}
	}
	return false
}

// startAll uploads the binary to each host and starts every node. Each
// port the system names gets NodePort+i on every host (client first); peers
// dial the peer port if the system has one.
func (c *Cluster) startAll(ctx context.Context, bin string) error {
	names := harness.PortsOf(c.spec.System)
	portOf := map[string]int{}
	for i, name := range names {
		portOf[name] = c.file.NodePort + i
	}
	port := portOf[harness.PortClient]
	peerPort, hasPeer := portOf[harness.PortPeer]
	if !hasPeer {
		peerPort = port
	}
	peers := map[string]string{}
	for _, n := range c.nodes {
		peers[n.id] = joinHostPort(n.host.PeerAddress, peerPort)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		g.Go(func() error {
			if n.host.NodeBinary == "" {
				if err := upload(gctx, n.conn, bin, n.bin); err != nil {
					return fmt.Errorf("upload to %s: %w", n.host, err)
				}
			}
			ns := harness.NodeSpec{ID: n.id, Binary: n.bin, Listen: joinHostPort(n.host.PeerAddress, port),
				Ports: map[string]string{}, Peers: clone(peers), DataDir: n.dir + "/data", Bug: c.spec.Bug}
			for name, p := range portOf {
				ns.Ports[name] = joinHostPort(n.host.PeerAddress, p)
			}
			ns.PeerListen = ns.Ports[harness.PortPeer]
			l, err := launch(gctx, c.spec.System, ns)
			if err != nil {
				return fmt.Errorf("launch of %s: %w", n.id, err)
			}
			if err := writeFiles(gctx, n.conn, ns.DataDir, l.Files); err != nil {
				return fmt.Errorf("files of %s on %s: %w", n.id, n.host, err)
			}
			n.launch = l
			n.client = joinHostPort(n.host.ClientAddress, port)
			n.ports = map[string]string{}
			for name, p := range portOf {
				n.ports[name] = joinHostPort(n.host.ClientAddress, p)
			}
			return c.start(gctx, n)
		})
	}
	return g.Wait()
}

// discard is the logger when neither the run nor the options give one.
var discard harness.Logger = slog.New(slog.DiscardHandler)
