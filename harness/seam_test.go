package harness

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hungSystem's clients never return from a write and ignore ctx: a system
// whose client library hangs.
type hungSystem struct {
	*memSystem
	release chan struct{}
	calls   atomic.Int64
}

func (h *hungSystem) NewClient(Node) (Client, error) {
	return hungClient{h}, nil
}

type hungClient struct{ h *hungSystem }

func (c hungClient) Invoke(ctx context.Context, op Op) Op {
	c.h.calls.Add(1)
	if op.F == FWrite {
		<-c.h.release // ignores ctx
	}
	return op.Complete(Fail)
}
func (hungClient) Close() error { return nil }

// The main phase holds its time limit whatever a client does: an overdue
// call is abandoned, recorded info, and its worker goes on.
func TestRunHoldsTheTimeLimitWhenClientsHang(t *testing.T) {
	tst, p, sys, _, _ := testParts(t)
	h := &hungSystem{memSystem: sys, release: make(chan struct{})}
	defer close(h.release)
	p.System = h
	tst.OpTimeout = Duration(100 * time.Millisecond)
	tst.TimeLimit = Duration(time.Second)
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	// The hung calls never return while Run runs: a runner that waited
	// for them would not end at all. The bound is loose on purpose.
	assert.Less(t, res.TestTime.D(), time.Minute, "the main phase ended near its limit, not held by hung calls")
	hist, err := ReadHistory(runDir(t, tst.Out) + "/" + HistoryFile)
	require.NoError(t, err)
	abandoned := 0
	for _, op := range hist {
		if op.Type == Info && op.F == FWrite {
			assert.Contains(t, op.Error, "abandoned")
			abandoned++
		}
	}
	assert.Positive(t, abandoned)
	assert.Greater(t, h.calls.Load(), int64(tst.Concurrency), "workers went on after an abandoned call")
}

// setupSystem has a Setup step and no digests.
type setupSystem struct {
	*memSystem
	setups atomic.Int64
	fail   bool
}

func (s *setupSystem) Setup(ctx context.Context, env SetupEnv) error {
	s.setups.Add(1)
	if len(env.Nodes) == 0 || env.Nodes[0].Addr() == "" || env.Nodes[0].Ports["monitor"] == "" {
		return errors.New("no nodes, or nodes without their ports")
	}
	if s.fail {
		return errors.New("bucket exists")
	}
	return nil
}

// noDigests is setupSystem without memSystem's Digest: a system that
// makes none.
type noDigests struct{ s *setupSystem }

func (n noDigests) Name() string { return n.s.Name() }
func (n noDigests) Launch(ctx context.Context, ns NodeSpec) (Launch, error) {
	return n.s.Launch(ctx, ns)
}
func (n noDigests) NewClient(node Node) (Client, error) { return n.s.NewClient(node) }
func (n noDigests) Status(ctx context.Context, node Node) (NodeStatus, error) {
	return n.s.Status(ctx, node)
}
func (n noDigests) Setup(ctx context.Context, env SetupEnv) error { return n.s.Setup(ctx, env) }

func TestSystemSetupStepAndNoDigests(t *testing.T) {
	tst, p, sys, _, _ := testParts(t)
	s := &setupSystem{memSystem: sys}
	p.System = noDigests{s}
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.EqualValues(t, 1, s.setups.Load())
	assert.Zero(t, sys.digests.Load(), "no Digester: no digest asked for, no waiting")
	assert.Empty(t, res.Digests)

	s.fail = true
	tst.Out = t.TempDir()
	res, err = Run(context.Background(), tst, p)
	require.Error(t, err)
	assert.Contains(t, res.Error, "bucket exists")
	assert.Equal(t, ExitRunFail, res.ExitCode())
}

func TestRunRefusesASystemNameThatDisagrees(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	tst.System = "raft"
	_, err := Run(context.Background(), tst, p)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), `names system "raft"`)

	// An empty name takes the system's: config.json names what ran.
	tst.System = ""
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.Equal(t, "mem", res.Test.System)
}

// portsSystem records the node every per-node call was given: a product
// whose status, digest and clock live on a port of its own ("monitor").
type portsSystem struct {
	*memSystem
	mu   sync.Mutex
	seen map[string][]Node // call -> the nodes it got
}

func (s *portsSystem) saw(call string, ns ...Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[call] = append(s.seen[call], ns...)
}
func (s *portsSystem) Ports() []string { return []string{"monitor"} }
func (s *portsSystem) NewClient(n Node) (Client, error) {
	s.saw("client", n)
	return s.memSystem.NewClient(n)
}
func (s *portsSystem) Status(ctx context.Context, n Node) (NodeStatus, error) {
	s.saw("status", n)
	return s.memSystem.Status(ctx, n)
}
func (s *portsSystem) Digest(ctx context.Context, n Node) (Digest, error) {
	s.saw("digest", n)
	return s.memSystem.Digest(ctx, n)
}
func (s *portsSystem) Converge(_ context.Context, ns []Node, _ []string) error {
	s.saw("converge", ns...)
	return nil
}
func (s *portsSystem) Setup(_ context.Context, env SetupEnv) error {
	s.saw("setup", env.Nodes...)
	return nil
}

func TestPerNodeCallsGetTheNodesPorts(t *testing.T) {
	tst, p, mem, _, _ := testParts(t)
	s := &portsSystem{memSystem: mem, seen: map[string][]Node{}}
	p.System = s
	_, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	for _, call := range []string{"client", "status", "digest", "converge", "setup"} {
		require.NotEmpty(t, s.seen[call], call)
		for _, n := range s.seen[call] {
			assert.Equal(t, n.ID, n.Addr(), "%s: the client port", call)
			assert.Equal(t, n.ID+"/monitor", n.Ports["monitor"], "%s: the named port", call)
		}
	}
}
