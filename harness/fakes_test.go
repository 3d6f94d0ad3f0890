package harness

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// In-memory parts for testing the runner without processes: a register
// store shared by all "nodes", a cluster whose faults only count calls, and a
// small kv workload. Tests outside package harness use harness/harnesstest
// instead; these stay until the runner leaves package harness (which
// harnesstest imports, so harness's own tests cannot).

type memStore struct {
	mu        sync.Mutex
	kv        map[string]string
	failReads atomic.Bool // every read fails (a cluster that never recovers)
	infoEvery int         // every n-th write is info (0 = never)
	n         atomic.Int64
	delay     time.Duration
}

type memClient struct {
	s     *memStore
	panic bool
}

func (c *memClient) Invoke(ctx context.Context, op Op) Op {
	s := c.s
	if c.panic {
		panic("client exploded")
	}
	if s.delay > 0 {
		select {
		case <-ctx.Done():
			return op.Complete(Info)
		case <-time.After(s.delay):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op.F {
	case FRead:
		if s.failReads.Load() {
			out := op.Complete(Fail)
			out.Error = "unavailable"
			return out
		}
		out := op.Complete(OK)
		if v, ok := s.kv[op.Key]; ok {
			out.Value = Str(v)
		}
		return out
	case FWrite:
		if s.infoEvery > 0 && s.n.Add(1)%int64(s.infoEvery) == 0 {
			return op.Complete(Info) // and do not apply: allowed for info
		}
		s.kv[op.Key] = *op.Value
		return op.Complete(OK)
	}
	return op.Complete(Fail)
}

func (c *memClient) Close() error { return nil }

type memSystem struct {
	store        *memStore
	panicClients bool
	diverge      bool   // every node reports its own digest, and honours ctx
	applied      uint64 // the applied index every node reports
	leader       string // if set, the system reports a leader: this node
	digests      atomic.Int64
}

func newMemSystem() *memSystem { return &memSystem{store: &memStore{kv: map[string]string{}}} }

func (m *memSystem) Name() string                                        { return "mem" }
func (m *memSystem) Build(context.Context, string) (string, error)       { return "", nil }
func (m *memSystem) Launch(context.Context, NodeSpec) (Launch, error)    { return Launch{}, nil }
func (m *memSystem) Bugs() []Bug                                         { return nil }
func (m *memSystem) SetClock(context.Context, Node, time.Duration) error { return nil }
func (m *memSystem) NewClient(Node) (Client, error) {
	return &memClient{s: m.store, panic: m.panicClients}, nil
}
func (m *memSystem) Status(ctx context.Context, n Node) (NodeStatus, error) {
	return NodeStatus{ID: n.ID, Role: "replica", Leader: m.leader}, nil
}
func (m *memSystem) ReportsLeader() bool { return m.leader != "" }
func (m *memSystem) Digest(ctx context.Context, n Node) (Digest, error) {
	m.digests.Add(1)
	if m.diverge {
		if err := ctx.Err(); err != nil {
			return Digest{}, err
		}
		return Digest{Digest: "only " + n.ID, Applied: m.applied}, nil
	}
	return Digest{Digest: "same", Applied: m.applied}, nil
}

type memCluster struct {
	nodes             []string
	closes, collects  atomic.Int32
	partitions, heals atomic.Int32
	unsupported       Fault
}

func (c *memCluster) Nodes() []string               { return c.nodes }
func (c *memCluster) ClientAddr(node string) string { return node }

// Node gives every node a "monitor" port besides its client port, as a
// product with a status page of its own has.
func (c *memCluster) Node(node string) Node {
	return Node{ID: node, Ports: map[string]string{PortClient: node, "monitor": node + "/monitor"}}
}
func (c *memCluster) Supports(f Fault) bool                { return f != c.unsupported }
func (c *memCluster) Start(context.Context, string) error  { return nil }
func (c *memCluster) Kill(context.Context, string) error   { return nil }
func (c *memCluster) Stop(context.Context, string) error   { return nil }
func (c *memCluster) Pause(context.Context, string) error  { return nil }
func (c *memCluster) Resume(context.Context, string) error { return nil }
func (c *memCluster) Partition(context.Context, Grudge) error {
	c.partitions.Add(1)
	return nil
}
func (c *memCluster) Netem(context.Context, LinkFault) error { return nil }
func (c *memCluster) Heal(context.Context) error {
	c.heals.Add(1)
	return nil
}
func (c *memCluster) SetClock(context.Context, string, time.Duration) error { return nil }
func (c *memCluster) CollectLogs(ctx context.Context, dir string) error {
	c.collects.Add(1)
	for _, n := range c.nodes {
		if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
			return err
		}
	}
	return nil
}
func (c *memCluster) Close(context.Context) error {
	c.closes.Add(1)
	return nil
}

type memDeployment struct {
	cluster     *memCluster
	err         error
	unsupported Fault
}

func (d *memDeployment) Name() string                    { return "mem" }
func (d *memDeployment) Supports(_ System, f Fault) bool { return f != d.unsupported }
func (d *memDeployment) Deploy(ctx context.Context, spec ClusterSpec) (Cluster, error) {
	nodes := make([]string, spec.Nodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%d", i+1)
	}
	d.cluster = &memCluster{nodes: nodes, unsupported: d.unsupported}
	return d.cluster, d.err
}

// partitionNemesis cuts a random node off.
type partitionNemesis struct{}

func (partitionNemesis) Name() string      { return "partition" }
func (partitionNemesis) Requires() []Fault { return []Fault{FaultPartition} }
func (partitionNemesis) Start(ctx context.Context, c Cluster, rng *rand.Rand) (FaultEvent, error) {
	nodes := c.Nodes()
	n := nodes[rng.Intn(len(nodes))]
	var rest []string
	for _, m := range nodes {
		if m != n {
			rest = append(rest, m)
		}
	}
	return FaultEvent{Description: "isolate " + n, Nodes: []string{n}}, c.Partition(ctx, Symmetric([]string{n}, rest))
}
func (partitionNemesis) Heal(ctx context.Context, c Cluster) (FaultEvent, error) {
	return FaultEvent{Description: "heal network"}, c.Heal(ctx)
}

type killNemesis struct{}

func (killNemesis) Name() string      { return "kill" }
func (killNemesis) Requires() []Fault { return []Fault{FaultKill} }
func (killNemesis) Start(ctx context.Context, c Cluster, rng *rand.Rand) (FaultEvent, error) {
	n := c.Nodes()[rng.Intn(len(c.Nodes()))]
	return FaultEvent{Description: "kill " + n, Nodes: []string{n}}, c.Kill(ctx, n)
}
func (killNemesis) Heal(ctx context.Context, c Cluster) (FaultEvent, error) {
	return FaultEvent{Description: "restart all"}, nil
}

// kvWorkload writes unique values and reads over a few keys.
type kvWorkload struct {
	keys     int
	checkers []Checker
	panicGen bool
}

func (w kvWorkload) Name() string        { return "kv" }
func (w kvWorkload) Checkers() []Checker { return w.checkers }
func (w kvWorkload) Generator(rng *rand.Rand) Generator {
	return &kvGen{rng: rng, keys: max(w.keys, 1), used: map[string]bool{}, panic: w.panicGen}
}

type kvGen struct {
	rng   *rand.Rand
	keys  int
	n     int
	used  map[string]bool
	order []string
	panic bool
}

func (g *kvGen) Next(p Process) Op {
	if g.panic {
		panic("generator exploded")
	}
	g.n++
	k := fmt.Sprintf("k%d", g.rng.Intn(g.keys))
	if !g.used[k] {
		g.used[k] = true
		g.order = append(g.order, k)
	}
	if g.rng.Intn(2) == 0 {
		return Op{F: FRead, Key: k}
	}
	return Op{F: FWrite, Key: k, Value: Str(fmt.Sprint(g.n))}
}

func (g *kvGen) Keys() []string { return append([]string(nil), g.order...) }

// countChecker is valid when some op completed ok.
type countChecker struct{ called atomic.Int32 }

func (c *countChecker) Name() string { return "count" }
func (c *countChecker) Check(ctx context.Context, in CheckInput) Result {
	c.called.Add(1)
	for _, op := range in.History {
		if op.Type == OK {
			return Result{Validity: Valid, Summary: "ok ops seen"}
		}
	}
	return Result{Validity: Unknown, Summary: "nothing succeeded"}
}

// slowChecker ignores its context.
type slowChecker struct{ d time.Duration }

func (c slowChecker) Name() string { return "slow" }
func (c slowChecker) Check(ctx context.Context, in CheckInput) Result {
	time.Sleep(c.d)
	return Result{Validity: Valid}
}

// invalidChecker finds an anomaly at a fixed time.
type invalidChecker struct{}

func (invalidChecker) Name() string { return "bad" }
func (invalidChecker) Check(ctx context.Context, in CheckInput) Result {
	return Result{Validity: Invalid, Summary: "found", Anomalies: []Anomaly{{Checker: "bad", Explanation: "read of k1 returned 7", Time: 42}}}
}

// agreeChecker judges convergence as all digests equal: the runner waits
// for its Converged as it waits for the convergence checker's.
type agreeChecker struct{}

func (agreeChecker) Name() string { return "agree" }
func (agreeChecker) Check(ctx context.Context, in CheckInput) Result {
	if (agreeChecker{}).Converged(in.Digests) {
		return Result{Validity: Valid}
	}
	return Result{Validity: Invalid, Summary: "digests differ"}
}
func (agreeChecker) Converged(ds []Digest) bool {
	for _, d := range ds {
		if d.Error != "" || d.Digest != ds[0].Digest {
			return false
		}
	}
	return len(ds) > 0
}
