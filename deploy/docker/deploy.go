package docker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"net"
	"net/netip"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// containerPorts gives each port a system names its number inside the
// containers: the client port 7000, the rest from 7001 in the system's
// order.
func containerPorts(sys harness.System) map[string]int {
	out := map[string]int{}
	for i, name := range harness.PortsOf(sys) {
		out[name] = clientPort + i
	}
	return out
}

const (
	clientPort  = 7000 // inside the container; published on 127.0.0.1:<random>
	controlPort = 7099 // gauntlet-fault's control API in the holder; published on 127.0.0.1
	dataPath    = "/data"
)

// Deployment is the docker deployment; New makes one.
type Deployment struct {
	opts  Options
	owner string

	mu   sync.Mutex
	prov *testcontainers.DockerProvider
	// netem caches the kernel probe: nil until probed.
	netem *probeResult

	buildMu sync.Mutex
}

var _ harness.Deployment = (*Deployment)(nil)

// New returns the docker deployment. It touches nothing until used.
func New(opts Options) harness.Deployment {
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 10 * time.Second
	}
	return &Deployment{opts: opts, owner: owner()}
}

func (d *Deployment) Name() string { return "docker" }

// Supports tells which faults clusters can make. Latency needs sch_netem in
// the daemon's kernel, which is probed once (a short-lived container).
func (d *Deployment) Supports(sys harness.System, f harness.Fault) bool {
	switch f {
	case harness.FaultPartition, harness.FaultKill, harness.FaultPause, harness.FaultLoss:
		return true
	case harness.FaultClock:
		return harness.Has(sys, harness.CapClock)
	case harness.FaultLatency:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p, err := d.probeKernel(ctx, d.logger(nil))
		return err == nil && p.Netem
	}
	return false
}

// logger is the run's logger, else the deployment's, else one that discards.
func (d *Deployment) logger(l harness.Logger) harness.Logger {
	return cmp.Or(l, d.opts.Logger, discard)
}

// provider is one testcontainers provider (and Docker client) per deployment.
func (d *Deployment) provider() (*testcontainers.DockerProvider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prov != nil {
		return d.prov, nil
	}
	prepareEnv()
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tcLogger{d.logger(nil)}))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	d.prov = p
	return p, nil
}

// probeKernel runs gauntlet-fault probe in a throwaway holder (no network)
// to learn whether nftables and netem work in the daemon's kernel.
func (d *Deployment) probeKernel(ctx context.Context, log harness.Logger) (probeResult, error) {
	d.mu.Lock()
	if d.netem != nil {
		defer d.mu.Unlock()
		return *d.netem, nil
	}
	d.mu.Unlock()
	p, err := d.provider()
	if err != nil {
		return probeResult{}, err
	}
	img, err := d.holderImage(ctx, log)
	if err != nil {
		return probeResult{}, err
	}
	run := "probe-" + randomHex(6)
	defer removeRun(context.WithoutCancel(ctx), p.Client(), run, 0)
	ctr, err := p.CreateContainer(ctx, testcontainers.ContainerRequest{
		Image:  img,
		Name:   "gauntlet-" + run,
		Cmd:    []string{"serve"},
		Labels: map[string]string{LabelRun: run, LabelOwner: d.owner, LabelRole: "holder"},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.CapAdd = []string{"NET_ADMIN"}
			hc.NetworkMode = "none"
		},
	})
	if err != nil {
		return probeResult{}, fmt.Errorf("probe container: %w", err)
	}
	if err := ctr.Start(ctx); err != nil {
		return probeResult{}, fmt.Errorf("probe container: %w", err)
	}
	res, err := probeIn(ctx, ctr)
	if err != nil {
		return probeResult{}, err
	}
	d.mu.Lock()
	d.netem = &res
	d.mu.Unlock()
	return res, nil
}

// probeResult is what gauntlet-fault probe prints.
type probeResult struct {
	Nftables      bool   `json:"nftables"`
	NftablesError string `json:"nftables_error"`
	Netem         bool   `json:"netem"`
	NetemError    string `json:"netem_error"`
	Device        string `json:"device"`
	DeviceError   string `json:"device_error"`
}

func probeIn(ctx context.Context, holder testcontainers.Container) (probeResult, error) {
	out, err := execFault(ctx, holder, "probe")
	if err != nil {
		return probeResult{}, err
	}
	var res probeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return probeResult{}, fmt.Errorf("probe: %w: %q", err, out)
	}
	return res, nil
}

// execFault runs gauntlet-fault in a holder and returns its output.
func execFault(ctx context.Context, holder testcontainers.Container, args ...string) (string, error) {
	code, r, err := holder.Exec(ctx, append([]string{faultPath}, args...), tcexec.Multiplexed())
	if err != nil {
		return "", fmt.Errorf("exec gauntlet-fault %s: %w", args[0], err)
	}
	var b []byte
	if r != nil {
		b, _ = io.ReadAll(r)
	}
	out := strings.TrimSpace(string(b))
	if code != 0 {
		return out, fmt.Errorf("gauntlet-fault %s exited %d: %s", strings.Join(args, " "), code, out)
	}
	return out, nil
}

// Deploy creates the run's network, a holder and a node container per
// node, and returns once every container runs (not yet healthy: see
// Cluster.WaitHealthy). On any error, and on ctx cancellation, it removes
// everything it made before returning.
func (d *Deployment) Deploy(ctx context.Context, spec harness.ClusterSpec) (_ harness.Cluster, err error) {
	log := d.logger(spec.Log)
	if spec.Nodes < 1 || spec.Nodes > 200 {
		return nil, fmt.Errorf("docker deploy: %d nodes (want 1..200)", spec.Nodes)
	}
	if spec.System == nil {
		return nil, errors.New("docker deploy: no system")
	}
	if spec.RunID == "" {
		spec.RunID = randomHex(8)
	}
	start := time.Now()
	p, err := d.provider()
	if err != nil {
		return nil, err
	}
	cli := p.Client()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	if err := cleanupStale(ctx, cli, func(run string) {
		log.Info("docker: removing leftovers of a dead run", "run", run)
	}); err != nil {
		log.Warn("docker: cleaning up stale runs", "err", err)
	}
	holderImg, nodeImg, err := d.images(ctx, spec.System, log)
	if err != nil {
		return nil, fmt.Errorf("docker deploy: %w", err)
	}
	log.Info("docker: images ready", "holder", holderImg, "node", nodeImg, "elapsed", time.Since(start).Round(time.Millisecond))

	c := &Cluster{
		d:       d,
		cli:     cli,
		spec:    spec,
		log:     log,
		runID:   spec.RunID,
		netName: "gauntlet-" + nodes.Sanitize(spec.RunID),
		byID:    map[string]*node{},
	}
	defer func() {
		if err != nil {
			// ctx may be the reason we fail: clean up with a fresh one.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if cerr := removeRun(cctx, cli, spec.RunID, 2*time.Second); cerr != nil {
				log.Error("docker: cleanup after failed deploy", "err", cerr)
			}
		}
	}()

	subnet, err := c.createNetwork(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker deploy: %w", err)
	}
	ports := containerPorts(spec.System)
	peerPortFor := clientPort
	if p, ok := ports[harness.PortPeer]; ok {
		peerPortFor = p
	}
	base := subnet.Addr().As4()
	for i := range spec.Nodes {
		ip := base
		ip[3] = byte(2 + i)
		n := &node{id: fmt.Sprintf("n%d", i+1), ip: netip.AddrFrom4(ip)}
		c.nodes = append(c.nodes, n)
		c.byID[n.id] = n
	}
	peers := map[string]string{}
	for _, n := range c.nodes {
		peers[n.id] = netip.AddrPortFrom(n.ip, uint16(peerPortFor)).String()
	}

	if err := c.startHolders(ctx, p, holderImg); err != nil {
		return nil, fmt.Errorf("docker deploy: %w", err)
	}
	if err := c.startNodes(ctx, p, nodeImg, peers, ports); err != nil {
		return nil, fmt.Errorf("docker deploy: %w", err)
	}
	log.Info("docker: cluster started", "run", spec.RunID, "nodes", spec.Nodes, "subnet", subnet.String(),
		"elapsed", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// startHolders starts every node's holder and learns from the first what
// the kernel can do (nftables is required, netem optional).
func (c *Cluster) startHolders(ctx context.Context, p *testcontainers.DockerProvider, img string) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		g.Go(func() error { return c.startHolder(gctx, p, img, n) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	probe, err := probeIn(ctx, c.nodes[0].holder)
	if err != nil {
		return err
	}
	if !probe.Nftables {
		return fmt.Errorf("nftables unusable in the holder: %s", probe.NftablesError)
	}
	c.netem, c.netemErr = probe.Netem, probe.NetemError
	if !probe.Netem {
		c.log.Info("docker: no netem in this kernel; latency faults unsupported", "why", probe.NetemError)
	}
	return nil
}

// startNodes asks the system how to launch each node and starts it.
func (c *Cluster) startNodes(ctx context.Context, p *testcontainers.DockerProvider, img string, peers map[string]string, ports map[string]int) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		ns := harness.NodeSpec{
			ID:      n.id,
			Binary:  nodePath,
			Listen:  netip.AddrPortFrom(n.ip, clientPort).String(),
			Ports:   map[string]string{},
			Peers:   maps.Clone(peers),
			DataDir: dataPath,
			Bug:     c.spec.Bug,
		}
		for name, port := range ports {
			ns.Ports[name] = netip.AddrPortFrom(n.ip, uint16(port)).String()
		}
		ns.PeerListen = ns.Ports[harness.PortPeer]
		launch, err := c.spec.System.Launch(ctx, ns)
		if err != nil {
			return fmt.Errorf("launch of %s: %w", n.id, err)
		}
		g.Go(func() error { return c.startNode(gctx, p, img, n, launch) })
	}
	return g.Wait()
}

// createNetwork makes the run's bridge network on a /24 derived from the
// run id, trying further candidates when a pool overlaps an existing one.
func (c *Cluster) createNetwork(ctx context.Context) (netip.Prefix, error) {
	labels := c.labels("", "")
	var lastErr error
	for _, subnet := range subnetCandidates(c.runID, 32) {
		if overlapsLocal(subnet) {
			continue
		}
		_, err := c.cli.NetworkCreate(ctx, c.netName, client.NetworkCreateOptions{
			Driver: "bridge",
			IPAM: &network.IPAM{Config: []network.IPAMConfig{{
				Subnet:  subnet,
				Gateway: subnet.Addr().Next(),
			}}},
			Labels: labels,
		})
		if err == nil {
			return subnet, nil
		}
		lastErr = err
		if !strings.Contains(strings.ToLower(err.Error()), "overlap") {
			return netip.Prefix{}, fmt.Errorf("create network %s: %w", c.netName, err)
		}
		c.log.Debug("docker: subnet taken, trying another", "subnet", subnet.String())
	}
	return netip.Prefix{}, fmt.Errorf("create network %s: no free subnet: %w", c.netName, lastErr)
}

// subnetCandidates are /24s in 10.64.0.0/10-ish space (Docker's default
// pools are 172.17-31.x and 192.168.x), starting at one derived from the run
// id so parallel runs rarely meet.
func subnetCandidates(runID string, n int) []netip.Prefix {
	h := fnv.New64a()
	h.Write([]byte(runID))
	x := h.Sum64()
	out := make([]netip.Prefix, 0, n)
	for i := range n {
		v := x + uint64(i)*7919
		b := [4]byte{10, byte(64 + v%128), byte((v / 128) % 256), 0}
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(b), 24))
	}
	return out
}

// overlapsLocal skips subnets that an interface of this host already uses.
func overlapsLocal(p netip.Prefix) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil {
			continue
		}
		ones, _ := ipn.Mask.Size()
		q := netip.PrefixFrom(netip.AddrFrom4([4]byte(ipn.IP.To4())), ones).Masked()
		if q.Overlaps(p) {
			return true
		}
	}
	return false
}

func (c *Cluster) labels(nodeID, role string) map[string]string {
	l := map[string]string{LabelRun: c.runID, LabelOwner: c.d.owner}
	if nodeID != "" {
		l[LabelNode] = nodeID
	}
	if role != "" {
		l[LabelRole] = role
	}
	return l
}

func (c *Cluster) containerName(n *node) string {
	return "gauntlet-" + nodes.Sanitize(c.runID) + "-" + n.id
}

// startHolder starts the namespace owner: static IP on the run network,
// CAP_NET_ADMIN for the faults, every port the system names (the client
// port first) and the control port published on 127.0.0.1.
func (c *Cluster) startHolder(ctx context.Context, p *testcontainers.DockerProvider, img string, n *node) error {
	named := containerPorts(c.spec.System)
	cport := network.MustParsePort(fmt.Sprintf("%d/tcp", controlPort))
	loopback := netip.MustParseAddr("127.0.0.1")
	bindings := network.PortMap{cport: {{HostIP: loopback, HostPort: "0"}}}
	exposed := []string{cport.String()}
	for _, num := range named {
		port := network.MustParsePort(fmt.Sprintf("%d/tcp", num))
		bindings[port] = []network.PortBinding{{HostIP: loopback, HostPort: "0"}}
		exposed = append(exposed, port.String())
	}
	ctr, err := p.CreateContainer(ctx, testcontainers.ContainerRequest{
		Image:        img,
		Name:         c.containerName(n) + "-holder",
		Cmd:          []string{"serve", "--control", fmt.Sprintf("0.0.0.0:%d", controlPort)},
		Labels:       c.labels(n.id, "holder"),
		ExposedPorts: exposed,
		Networks:     []string{c.netName},
		ConfigModifier: func(cfg *container.Config) {
			cfg.Hostname = n.id
		},
		// Replaces testcontainers' default modifier, so all of it is here.
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.CapAdd = []string{"NET_ADMIN"}
			hc.PortBindings = bindings
		},
		EndpointSettingsModifier: func(es map[string]*network.EndpointSettings) {
			if e := es[c.netName]; e != nil {
				e.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: n.ip}
				e.Aliases = append(e.Aliases, n.id)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("create holder of %s: %w", n.id, err)
	}
	n.holder = ctr.(*testcontainers.DockerContainer)
	if err := ctr.Start(ctx); err != nil {
		return fmt.Errorf("start holder of %s: %w", n.id, err)
	}
	insp, err := c.cli.ContainerInspect(ctx, n.holder.ID, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect holder of %s: %w", n.id, err)
	}
	ns := insp.Container.NetworkSettings
	if ns == nil || ns.Networks[c.netName] == nil || ns.Networks[c.netName].IPAddress != n.ip {
		return fmt.Errorf("holder of %s did not get IP %s", n.id, n.ip)
	}
	published := func(p network.Port) string {
		for _, b := range ns.Ports[p] {
			if b.HostIP == loopback && b.HostPort != "" && b.HostPort != "0" {
				return b.HostPort
			}
		}
		return ""
	}
	n.controlPort = published(cport)
	n.hostPorts = map[string]string{}
	for name, num := range named {
		hp := published(network.MustParsePort(fmt.Sprintf("%d/tcp", num)))
		if hp == "" || n.controlPort == "" {
			return fmt.Errorf("holder of %s: ports %d (%s), %s not published on 127.0.0.1: %v", n.id, num, name, cport, ns.Ports)
		}
		n.hostPorts[name] = "127.0.0.1:" + hp
	}
	n.hostPort = strings.TrimPrefix(n.hostPorts[harness.PortClient], "127.0.0.1:")
	return nil
}

// startNode starts the node in its holder's namespace, its data on a
// labelled named volume that outlives kills.
func (c *Cluster) startNode(ctx context.Context, p *testcontainers.DockerProvider, img string, n *node, l harness.Launch) error {
	env := map[string]string{}
	for _, kv := range l.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	labels := c.labels(n.id, "node")
	var files []testcontainers.ContainerFile
	for name, b := range l.Files {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("node %s: launch file %q must be a relative path inside the data directory", n.id, name)
		}
		files = append(files, testcontainers.ContainerFile{Reader: bytes.NewReader(b),
			ContainerFilePath: path.Join(dataPath, filepath.ToSlash(name)), FileMode: 0o644})
	}
	ctr, err := p.CreateContainer(ctx, testcontainers.ContainerRequest{
		Files:      files,
		Image:      img,
		Name:       c.containerName(n),
		Entrypoint: []string{nodePath},
		Cmd:        l.Args,
		Env:        env,
		Labels:     labels,
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.NetworkMode = container.NetworkMode("container:" + n.holder.ID)
			hc.Mounts = []mount.Mount{{
				Type:          mount.TypeVolume,
				Source:        c.containerName(n) + "-data",
				Target:        dataPath,
				VolumeOptions: &mount.VolumeOptions{Labels: labels},
			}}
		},
	})
	if err != nil {
		return fmt.Errorf("create node %s: %w", n.id, err)
	}
	n.ctr = ctr.(*testcontainers.DockerContainer)
	if err := ctr.Start(ctx); err != nil {
		return fmt.Errorf("start node %s: %w", n.id, err)
	}
	return nil
}
