package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Cluster is a running docker deployment. Besides harness.Cluster it
// implements harness.LeaderFinder and WaitHealthy.
type Cluster struct {
	d       *Deployment
	cli     client.APIClient
	spec    harness.ClusterSpec
	log     harness.Logger
	runID   string
	netName string
	nodes   []*node
	byID    map[string]*node

	netem    bool
	netemErr string

	faultMu sync.Mutex // serializes Partition/Netem/Heal
	grudge  harness.Grudge
	link    harness.LinkFault

	closeMu sync.Mutex
	closed  bool
}

type node struct {
	id       string
	ip       netip.Addr
	hostPort string
	// hostPorts: every port the system names (client included) as
	// published on 127.0.0.1, host:port.
	hostPorts map[string]string
	// controlPort reaches gauntlet-fault serve in the holder.
	controlPort string
	holder      *testcontainers.DockerContainer
	ctr         *testcontainers.DockerContainer

	mu      sync.Mutex
	applied *faultState // last state applied; nil = none yet (or unknown)
	events  []string    // timestamped faults and process events, for faults.log
}

// event records what was done to the node, for faults.log.
func (n *node) event(format string, args ...any) {
	line := time.Now().UTC().Format(time.RFC3339Nano) + " " + fmt.Sprintf(format, args...)
	n.mu.Lock()
	n.events = append(n.events, line)
	n.mu.Unlock()
}

func (n *node) setApplied(st *faultState) {
	n.mu.Lock()
	n.applied = st
	n.mu.Unlock()
}

var (
	_ harness.Cluster      = (*Cluster)(nil)
	_ harness.LeaderFinder = (*Cluster)(nil)
	_ harness.NodeReporter = (*Cluster)(nil)
)

func (c *Cluster) Nodes() []string { return nodes.IDs(c.nodes, func(n *node) string { return n.id }) }

// ClientAddr is the node's port published on 127.0.0.1. Published ports
// live on the holder, so they survive kills and restarts of the node.
func (c *Cluster) ClientAddr(id string) string {
	n := c.byID[id]
	if n == nil {
		return ""
	}
	return "127.0.0.1:" + n.hostPort
}

// Node is node with each of its ports as published on 127.0.0.1.
func (c *Cluster) Node(id string) harness.Node {
	if n := c.byID[id]; n != nil {
		return harness.Node{ID: id, Ports: maps.Clone(n.hostPorts)}
	}
	return harness.Node{ID: id, Ports: map[string]string{}}
}

// IP is the node's address on the run's private network.
func (c *Cluster) IP(id string) string {
	if n := c.byID[id]; n != nil {
		return n.ip.String()
	}
	return ""
}

// RunID is the id every container, network and volume is labelled with.
func (c *Cluster) RunID() string { return c.runID }

func (c *Cluster) Supports(f harness.Fault) bool {
	if f == harness.FaultLatency {
		return c.netem
	}
	return c.d.Supports(c.spec.System, f)
}

func (c *Cluster) node(id string) (*node, error) {
	n := c.byID[id]
	if n == nil {
		return nil, fmt.Errorf("docker: no node %q", id)
	}
	return n, nil
}

// Start starts a stopped or killed node's container again: same volume,
// same holder, hence same IP, port and fault rules. A running node is left
// alone.
func (c *Cluster) Start(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if _, err := c.cli.ContainerStart(ctx, n.ctr.ID, client.ContainerStartOptions{}); err != nil {
		n.event("start FAILED: %v", err)
		return fmt.Errorf("start %s: %w", id, err)
	}
	n.event("start")
	return nil
}

// Kill sends SIGKILL through the Docker API and waits until the container
// has exited, so that a Start right after it restarts it.
func (c *Cluster) Kill(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if _, err := c.cli.ContainerKill(ctx, n.ctr.ID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		if isNotRunning(err) {
			return nil
		}
		return fmt.Errorf("kill %s: %w", id, err)
	}
	n.event("SIGKILL")
	return c.waitExited(ctx, n)
}

// Stop sends SIGTERM, then SIGKILL after Options.StopTimeout.
func (c *Cluster) Stop(ctx context.Context, id string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	secs := int(c.d.opts.StopTimeout / time.Second)
	if _, err := c.cli.ContainerStop(ctx, n.ctr.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	n.event("stop (SIGTERM)")
	return c.waitExited(ctx, n)
}

func (c *Cluster) waitExited(ctx context.Context, n *node) error {
	for {
		insp, err := c.cli.ContainerInspect(ctx, n.ctr.ID, client.ContainerInspectOptions{})
		if err != nil {
			return fmt.Errorf("inspect %s: %w", n.id, err)
		}
		if st := insp.Container.State; st == nil || !st.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to exit: %w", n.id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Pause sends SIGSTOP (docker kill --signal STOP), not docker pause: the
// freezer leaves the container in a "paused" state in which Docker refuses
// kill and stop, so a kill nemesis overlapping a pause would fail, and it
// would differ from the local deployment's SIGSTOP. The signal comes from
// outside the container's PID namespace, so it reaches the node even as PID 1.
func (c *Cluster) Pause(ctx context.Context, id string) error {
	return c.signal(ctx, id, "STOP")
}

// Resume sends SIGCONT.
func (c *Cluster) Resume(ctx context.Context, id string) error {
	return c.signal(ctx, id, "CONT")
}

func (c *Cluster) signal(ctx context.Context, id, sig string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if _, err := c.cli.ContainerKill(ctx, n.ctr.ID, client.ContainerKillOptions{Signal: sig}); err != nil {
		if isNotRunning(err) {
			return nil // a killed node is neither paused nor running
		}
		return fmt.Errorf("SIG%s %s: %w", sig, id, err)
	}
	n.event("SIG%s", sig)
	return nil
}

func isNotRunning(err error) bool {
	return cerrdefs.IsConflict(err) || strings.Contains(err.Error(), "is not running")
}

// Partition replaces the partition: in each node's namespace, nftables
// drops packets from the IPs of the nodes it holds a grudge against. A
// one-sided grudge still breaks TCP both ways (the replies are dropped).
func (c *Cluster) Partition(ctx context.Context, g harness.Grudge) error {
	for id, from := range g {
		if _, err := c.node(id); err != nil {
			return fmt.Errorf("partition: %w", err)
		}
		for _, f := range from {
			if _, err := c.node(f); err != nil {
				return fmt.Errorf("partition: %w", err)
			}
		}
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	c.grudge = g
	return c.applyFaults(ctx, "partition "+g.String())
}

// Netem replaces the link fault. Loss is an nftables random drop on the
// way out to the affected peers; latency a netem qdisc, only where the
// kernel has sch_netem.
func (c *Cluster) Netem(ctx context.Context, f harness.LinkFault) error {
	if f.Loss < 0 || f.Loss > 1 {
		return fmt.Errorf("netem: loss %v not in [0,1]", f.Loss)
	}
	if (f.Latency > 0 || f.Jitter > 0) && !c.netem {
		return fmt.Errorf("latency: %w: the kernel has no sch_netem (%s)", harness.ErrUnsupported, c.netemErr)
	}
	for id, to := range f.Links {
		if _, err := c.node(id); err != nil {
			return fmt.Errorf("netem: %w", err)
		}
		for _, t := range to {
			if _, err := c.node(t); err != nil {
				return fmt.Errorf("netem: %w", err)
			}
		}
	}
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	c.link = f
	return c.applyFaults(ctx, fmt.Sprintf("netem latency=%v jitter=%v loss=%v", f.Latency, f.Jitter, f.Loss))
}

// Heal removes partitions and link faults (deletes our table and qdisc).
func (c *Cluster) Heal(ctx context.Context) error {
	c.faultMu.Lock()
	defer c.faultMu.Unlock()
	c.grudge, c.link = nil, harness.LinkFault{}
	return c.applyFaults(ctx, "heal")
}

// faultState is gauntlet-fault's state (the JSON its control API takes).
type faultState struct {
	Drop    []string      `json:"drop,omitempty"`
	Loss    float64       `json:"loss,omitempty"`
	LossTo  []string      `json:"loss_to,omitempty"`
	Delay   time.Duration `json:"delay,omitempty"`
	Jitter  time.Duration `json:"jitter,omitempty"`
	DelayTo []string      `json:"delay_to,omitempty"`
}

func (f *faultState) equal(g *faultState) bool {
	return f != nil && g != nil && slices.Equal(f.Drop, g.Drop) && f.Loss == g.Loss && slices.Equal(f.LossTo, g.LossTo) &&
		f.Delay == g.Delay && f.Jitter == g.Jitter && slices.Equal(f.DelayTo, g.DelayTo)
}

func (f *faultState) empty() bool { return f.equal(&faultState{}) }

// faultState is n's share of the current partition and link fault.
func (c *Cluster) faultState(n *node) *faultState {
	ips := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if m := c.byID[id]; m != nil && m != n {
				out = append(out, m.ip.String())
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	st := &faultState{Drop: ips(c.grudge[n.id])}
	var to []string
	if c.link.Links == nil {
		to = ips(c.Nodes())
	} else {
		to = ips(c.link.Links[n.id])
	}
	if len(to) > 0 && c.link.Loss > 0 {
		st.Loss, st.LossTo = c.link.Loss, to
	}
	if len(to) > 0 && (c.link.Latency > 0 || c.link.Jitter > 0) {
		st.Delay, st.Jitter, st.DelayTo = c.link.Latency, c.link.Jitter, to
	}
	return st
}

// applyFaults sends each holder whose state changes its new state, in
// parallel; each holder replaces its namespace's rules atomically.
func (c *Cluster) applyFaults(ctx context.Context, what string) error {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range c.nodes {
		st := c.faultState(n)
		n.mu.Lock()
		same := st.equal(n.applied) || (n.applied == nil && len(n.events) == 0 && st.empty())
		n.mu.Unlock()
		if same {
			continue
		}
		g.Go(func() error {
			out, err := c.postState(gctx, n, st)
			if err != nil {
				n.setApplied(nil) // unknown: send it again next time
				n.event("%s: FAILED: %v", what, err)
				return fmt.Errorf("%s on %s: %w", what, n.id, err)
			}
			n.setApplied(st)
			n.event("%s: %s", what, out)
			return nil
		})
	}
	err := g.Wait()
	c.log.Debug("docker: faults applied", "what", what, "elapsed", time.Since(start).Round(time.Millisecond), "err", err)
	return err
}

// postState sends st to the holder's control API.
func (c *Cluster) postState(ctx context.Context, n *node, st *faultState) (string, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:"+n.controlPort+"/apply", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("gauntlet-fault control: %w", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("gauntlet-fault control: %s: %s", resp.Status, bytes.TrimSpace(out))
	}
	return string(bytes.TrimSpace(out)), nil
}

// SetClock goes through the system's debug API: containers share the
// host's wall clock.
func (c *Cluster) SetClock(ctx context.Context, id string, offset time.Duration) error {
	if _, err := c.node(id); err != nil {
		return err
	}
	if err := harness.SetClockOf(ctx, c.spec.System, c.Node(id), offset); err != nil {
		return fmt.Errorf("set clock of %s: %w", id, err)
	}
	c.byID[id].event("clock offset %v", offset)
	return nil
}

// CollectLogs writes each node container's output (every incarnation:
// restarts append) to dir/<node>/node.log, and the holder's output with the
// faults and process events (kills, restarts, pauses) of that node to
// dir/<node>/faults.log.
func (c *Cluster) CollectLogs(ctx context.Context, dir string) error {
	var errs []error
	for _, n := range c.nodes {
		nd := filepath.Join(dir, n.id)
		if err := os.MkdirAll(nd, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("logs of %s: %w", n.id, err))
			continue
		}
		if err := saveLogs(ctx, n.ctr, filepath.Join(nd, "node.log"), nil); err != nil {
			errs = append(errs, fmt.Errorf("logs of %s: %w", n.id, err))
		}
		n.mu.Lock()
		events := append([]string(nil), n.events...)
		n.mu.Unlock()
		if err := saveLogs(ctx, n.holder, filepath.Join(nd, "faults.log"), events); err != nil {
			errs = append(errs, fmt.Errorf("fault log of %s: %w", n.id, err))
		}
	}
	return errors.Join(errs...)
}

// saveLogs writes ctr's output to path; extra lines (our own timestamped
// events) are merged in time order, so faults.log reads as one timeline.
func saveLogs(ctx context.Context, ctr *testcontainers.DockerContainer, path string, extra []string) error {
	var out bytes.Buffer
	if ctr != nil {
		r, err := ctr.Logs(ctx)
		if err != nil {
			return err
		}
		_, err = io.Copy(&out, r)
		r.Close()
		if err != nil {
			return err
		}
	}
	data := out.Bytes()
	if len(extra) > 0 {
		lines := append(strings.Split(strings.TrimRight(out.String(), "\n"), "\n"), extra...)
		if out.Len() == 0 {
			lines = extra
		}
		data = []byte(strings.Join(byTime(lines), "\n") + "\n")
	}
	return os.WriteFile(path, data, 0o644)
}

// byTime sorts lines by their leading RFC 3339 timestamp; a line without
// one stays after the line before it.
func byTime(lines []string) []string {
	type line struct {
		t time.Time
		s string
	}
	ls := make([]line, len(lines))
	var last time.Time
	for i, s := range lines {
		first, _, _ := strings.Cut(s, " ")
		if t, err := time.Parse(time.RFC3339Nano, first); err == nil {
			last = t
		}
		ls[i] = line{last, s}
	}
	slices.SortStableFunc(ls, func(a, b line) int { return a.t.Compare(b.t) })
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.s
	}
	return out
}

// Close removes every container, the network and the volumes of the run.
// It retries what an earlier Close failed to remove, and still works when
// ctx is already done (Ctrl-C): cleaning up is the point.
func (c *Cluster) Close(ctx context.Context) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return nil
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	if err := removeRun(ctx, c.cli, c.runID, 0); err != nil {
		return err
	}
	c.closed = true
	return nil
}

// Leader is the node the cluster names as leader (harness.Leader's rule).
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	return harness.Leader(ctx, c.spec.System, c)
}

// WaitHealthy waits until the cluster is healthy (harness.WaitHealthy's
// rule); a node that exited fails it at once, with the end of its output.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	return harness.WaitHealthy(ctx, c.spec.System, c)
}

// Exited describes how node's container ended, "" while it runs.
func (c *Cluster) Exited(ctx context.Context, id string) string {
	n, err := c.node(id)
	if err != nil || n.ctr == nil {
		return ""
	}
	return c.exited(ctx, n)
}

// LogTail is the last lines of node's output.
func (c *Cluster) LogTail(id string, lines int) string {
	n, err := c.node(id)
	if err != nil || n.ctr == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.tail(ctx, n, lines)
}

// exited describes n's exit with the end of its output, "" while it runs.
func (c *Cluster) exited(ctx context.Context, n *node) string {
	insp, err := c.cli.ContainerInspect(ctx, n.ctr.ID, client.ContainerInspectOptions{})
	if err != nil || insp.Container.State == nil || insp.Container.State.Running {
		return ""
	}
	st := insp.Container.State
	return fmt.Sprintf("%s exited with status %d: %s", n.id, st.ExitCode, c.tail(ctx, n, 5))
}

// tail is the last lines of n's output.
func (c *Cluster) tail(ctx context.Context, n *node, lines int) string {
	r, err := c.cli.ContainerLogs(ctx, n.ctr.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(lines)})
	if err != nil {
		return ""
	}
	defer r.Close()
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, r)
	return strings.TrimSpace(out.String())
}

// nodeState is the container state, for tests and diagnostics.
func (c *Cluster) nodeState(ctx context.Context, id string) (*container.State, error) {
	n, err := c.node(id)
	if err != nil {
		return nil, err
	}
	insp, err := c.cli.ContainerInspect(ctx, n.ctr.ID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, err
	}
	return insp.Container.State, nil
}
