package harnesstest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// System is an in-memory register store that every node shares. It serves
// reads, writes and cas, reports each node's status and digest, and can be
// made to misbehave with its fields, set before the run.
type System struct {
	Leader       string        // if set, every node names it leader (harness.LeaderReporter)
	FailReads    atomic.Bool   // every read fails (a cluster that never recovers)
	InfoEvery    int           // every n-th write is info and not applied (0 = never)
	Delay        time.Duration // each call takes this long, or until its context ends
	Diverge      bool          // each node reports a digest of its own
	Applied      uint64        // the applied index every node reports with its digest
	PanicClients bool          // clients panic on every call
	Digests      atomic.Int64  // digests asked for

	mu     sync.Mutex
	kv     map[string]string
	writes atomic.Int64
}

// NewSystem is an empty store.
func NewSystem() *System { return &System{kv: map[string]string{}} }

func (s *System) Name() string { return "mem" }
func (s *System) Launch(context.Context, harness.NodeSpec) (harness.Launch, error) {
	return harness.Launch{}, nil
}
func (s *System) NewClient(harness.Node) (harness.Client, error) { return client{s}, nil }

// Status: every node a replica, naming Leader.
func (s *System) Status(_ context.Context, n harness.Node) (harness.NodeStatus, error) {
	return harness.NodeStatus{ID: n.ID, Role: "replica", Leader: s.Leader}, nil
}
func (s *System) ReportsLeader() bool { return s.Leader != "" }

// Digest: one digest for every node, or each its own when Diverge is set.
func (s *System) Digest(ctx context.Context, n harness.Node) (harness.Digest, error) {
	s.Digests.Add(1)
	if s.Diverge {
		if err := ctx.Err(); err != nil {
			return harness.Digest{}, err
		}
		return harness.Digest{Digest: "only " + n.ID, Applied: s.Applied}, nil
	}
	return harness.Digest{Digest: "same", Applied: s.Applied}, nil
}

// Value is what the store holds for key.
func (s *System) Value(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[key]
	return v, ok
}

type client struct{ s *System }

func (c client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	s := c.s
	if s.PanicClients {
		panic("client exploded")
	}
	if s.Delay > 0 {
		select {
		case <-ctx.Done():
			return op.Complete(harness.Info)
		case <-time.After(s.Delay):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op.F {
	case harness.FRead:
		if s.FailReads.Load() {
			out := op.Complete(harness.Fail)
			out.Error = "unavailable"
			return out
		}
		out := op.Complete(harness.OK)
		if v, ok := s.kv[op.Key]; ok {
			out.Value = harness.Str(v)
		}
		return out
	case harness.FWrite:
		if s.InfoEvery > 0 && s.writes.Add(1)%int64(s.InfoEvery) == 0 {
			return op.Complete(harness.Info) // and not applied: allowed for info
		}
		s.kv[op.Key] = *op.Value
		return op.Complete(harness.OK)
	case harness.FCAS:
		if cur, ok := s.kv[op.Key]; !ok || op.From == nil || cur != *op.From {
			return op.Complete(harness.Fail)
		}
		s.kv[op.Key] = *op.Value
		return op.Complete(harness.OK)
	}
	return op.Complete(harness.Fail)
}

func (client) Close() error { return nil }
