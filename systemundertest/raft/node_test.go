package raft_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
	"github.com/gauntlet-dev/gauntlet/systemundertest/storage"
)

// listFSM appends every command; Apply returns the index.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *listFSM) Apply(index uint64, data []byte) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(data))
	return index
}

func (f *listFSM) Snapshot() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return json.Marshal(f.cmds)
}

func (f *listFSM) Restore(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = nil
	return json.Unmarshal(b, &f.cmds)
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

type fsm = raft.FSM

type member struct {
	node  *raft.Node
	fsm   *listFSM
	store *storage.Store // nil when in memory
	log   raft.LogStore
	hs    raft.StableStore
	snaps raft.SnapshotStore
}

type cluster struct {
	t       testing.TB
	net     *raft.InmemNetwork
	ids     []string
	members map[string]*member
	tune    func(*raft.Config)
	newFSM  func() fsm
	disk    bool
	dirs    map[string]string
}

func newCluster(t testing.TB, n int, disk bool, tune func(*raft.Config)) *cluster {
	return newClusterFSM(t, n, disk, nil, tune)
}

func newClusterFSM(t testing.TB, n int, disk bool, newFSM func() raft.FSM, tune func(*raft.Config)) *cluster {
	c := &cluster{t: t, net: raft.NewInmemNetwork(), members: map[string]*member{}, tune: tune, disk: disk,
		dirs: map[string]string{}, newFSM: newFSM}
	for i := 1; i <= n; i++ {
		c.ids = append(c.ids, fmt.Sprintf("n%d", i))
	}
	for _, id := range c.ids {
		if disk {
			c.dirs[id] = t.TempDir()
		}
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			c.stop(id)
		}
	})
	return c
}

func (c *cluster) start(id string) {
	m := c.members[id]
	if m == nil {
		m = &member{}
		if !c.disk {
			m.log, m.hs, m.snaps = raft.NewInmemLog(), &raft.InmemStable{}, &raft.InmemSnapshots{}
		}
		c.members[id] = m
	}
	if c.disk {
		st, err := storage.Open(c.dirs[id])
		require.NoError(c.t, err)
		m.store, m.log, m.hs, m.snaps = st, st.Log(), st.Stable(), st.Snapshots()
	}
	m.fsm = &listFSM{}
	var f raft.FSM = m.fsm
	if c.newFSM != nil {
		f = c.newFSM()
	}
	cfg := raft.Config{
		ID: id, Peers: c.ids, Transport: c.net.Transport(id),
		Log: m.log, Stable: m.hs, Snapshots: m.snaps, FSM: f,
		ElectionTimeout: 100 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond,
		Seed: 1,
	}
	if c.tune != nil {
		c.tune(&cfg)
	}
	node, err := raft.NewNode(cfg)
	require.NoError(c.t, err)
	m.node = node
	c.net.Register(id, node.Deliver)
}

func (c *cluster) stop(id string) {
	m := c.members[id]
	if m == nil || m.node == nil {
		return
	}
	c.net.Register(id, nil)
	m.node.Stop()
	m.node = nil
	if m.store != nil {
		require.NoError(c.t, m.store.Close())
		m.store = nil
	}
}

func (c *cluster) leader() *raft.Node {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, id := range c.ids {
			if m := c.members[id]; m.node != nil && m.node.Status().Role == "leader" {
				return m.node
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatal("no leader elected within 5s")
	return nil
}

// propose retries on the current leader until the command is applied.
func (c *cluster) propose(cmd string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.leader().Propose(ctx, []byte(cmd))
		cancel()
		if err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("proposal %q not applied within 10s", cmd)
}

func (c *cluster) waitApplied(id string, want []string) {
	require.Eventually(c.t, func() bool {
		m := c.members[id]
		return m.node != nil && len(m.fsm.list()) >= len(want)
	}, 10*time.Second, 5*time.Millisecond, "%s did not apply %d commands", id, len(want))
	require.Equal(c.t, want, c.members[id].fsm.list()[:len(want)])
}

func TestNodeReplicates(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	var want []string
	for i := range 20 {
		cmd := fmt.Sprintf("c%d", i)
		c.propose(cmd)
		want = append(want, cmd)
	}
	for _, id := range c.ids {
		c.waitApplied(id, want)
	}
}
