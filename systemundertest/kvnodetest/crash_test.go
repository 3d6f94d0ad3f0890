package kvnodetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// load writes unique keys through every node from several workers until
// stopped, recording what was acknowledged.
type load struct {
	mu      sync.Mutex
	acked   map[string]string // key -> value, acknowledged
	unknown int
	failed  int
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startLoad(c *cluster, workers int) *load {
	l := &load{acked: map[string]string{}, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var clients []*client.Client
			for _, nd := range c.nodes {
				clients = append(clients, client.New(nd.addr, time.Second))
			}
			defer func() {
				for _, cl := range clients {
					cl.Close()
				}
			}()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%d", w, i)
				val := fmt.Sprintf("v%d-%d", w, i)
				err := clients[(w+i)%len(clients)].Put(context.Background(), key, val)
				l.mu.Lock()
				switch {
				case err == nil:
					l.acked[key] = val
				case errors.Is(err, api.ErrNotApplied):
					l.failed++
				default:
					l.unknown++
				}
				l.mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // no hot loop while there is no leader
				}
			}
		}()
	}
	return l
}

func (l *load) finish() (acked map[string]string, failed, unknown int) {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked, l.failed, l.unknown
}

func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitProgress waits until n more writes were acknowledged.
func (l *load) waitProgress(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	start := l.ackedCount()
	require.Eventually(t, func() bool { return l.ackedCount() >= start+n }, timeout, 10*time.Millisecond,
		"the cluster acknowledged fewer than %d writes in %v", n, timeout)
}

// readAll reads every key linearizably (retrying unavailability) and
// returns the keys whose value differs from want.
func readAll(t *testing.T, c *cluster, want map[string]string) []string {
	t.Helper()
	keys := make(chan string)
	var mu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	var reads atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client.New(c.nodes[w%len(c.nodes)].addr, 2*time.Second)
			defer cl.Close()
			for k := range keys {
				var v string
				var found bool
				var err error
				for range 50 {
					if v, found, err = cl.Get(context.Background(), k, false); err == nil {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				reads.Add(1)
				mu.Lock()
				switch {
				case err != nil:
					bad = append(bad, fmt.Sprintf("%s: read failed: %v", k, err))
				case !found || v != want[k]:
					bad = append(bad, fmt.Sprintf("%s: want %q, read %q (found=%v)", k, want[k], v, found))
				}
				mu.Unlock()
			}
		}()
	}
	for k := range want {
		keys <- k
	}
	close(keys)
	wg.Wait()
	require.Equal(t, int64(len(want)), reads.Load())
	return bad
}

// TestSIGKILLLosesNoAcknowledgedWrite kills the leader and then a follower
// with SIGKILL under write load, restarts them, and checks that every
// acknowledged write is still readable and that the replicas converge.
func TestSIGKILLLosesNoAcknowledgedWrite(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-threshold", "500")
	l := startLoad(c, 16)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.finish()
		}
	}()
	l.waitProgress(t, 300, 10*time.Second)

	leader := c.waitLeader(5 * time.Second)
	t.Logf("SIGKILL leader %s after %d acked writes", leader.id, l.ackedCount())
	leader.kill()
	c.waitLeaderAmong(t, 10*time.Second, leader)
	l.waitProgress(t, 300, 10*time.Second)
	c.start(leader)

	l.waitProgress(t, 300, 10*time.Second)
	follower := c.follower(c.waitLeader(10 * time.Second))
	t.Logf("SIGKILL follower %s after %d acked writes", follower.id, l.ackedCount())
	follower.kill()
	l.waitProgress(t, 300, 10*time.Second)
	c.start(follower)
	l.waitProgress(t, 300, 10*time.Second)

	acked, failed, unknown := l.finish()
	t.Logf("writes: %d acknowledged, %d certainly failed, %d unknown", len(acked), failed, unknown)
	c.waitLeader(10 * time.Second)
	bad := readAll(t, c, acked)
	assert.Empty(t, bad, "acknowledged writes lost or changed (%d of %d)", len(bad), len(acked))
	d := c.waitConverged(15 * time.Second)
	assert.GreaterOrEqual(t, d.Keys, len(acked), "every acknowledged key is in the converged state")

	// The logs tell the story the harness's users read.
	for _, nd := range []*node{leader, follower} {
		data, err := os.ReadFile(nd.logPath)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, strings.Count(string(data), "kvnode serving"), 2, "%s logged its restart", nd.id)
	}
}

// waitLeaderAmong waits for a leader other than the excluded (dead) node.
func (c *cluster) waitLeaderAmong(t *testing.T, timeout time.Duration, dead *node) *node {
	t.Helper()
	var leader *node
	require.Eventually(t, func() bool {
		for id, s := range c.statuses() {
			if id != dead.id && s.Role == "leader" {
				leader = c.node(id)
				return true
			}
		}
		return false
	}, timeout, 50*time.Millisecond, "no new leader after %s died", dead.id)
	return leader
}

// TestSIGTERMShutsDownCleanly stops a node with SIGTERM: it exits 0, says so
// in its log, and after a restart still holds what was written.
func TestSIGTERMShutsDownCleanly(t *testing.T) {
	c := startCluster(t, 3)
	cl := client.New(c.nodes[0].addr, 2*time.Second)
	defer cl.Close()
	for i := range 20 {
		require.NoError(t, cl.Put(context.Background(), fmt.Sprintf("k%d", i), "v"))
	}
	nd := c.waitLeader(5 * time.Second)
	require.True(t, nd.signal(syscall.SIGTERM, 10*time.Second), "SIGTERM did not stop %s within 10s", nd.id)
	assert.NoError(t, nd.exitErr(), "exit status after SIGTERM")
	data, err := os.ReadFile(nd.logPath)
	require.NoError(t, err)
	assert.Contains(t, string(data), "stopped cleanly")

	c.start(nd)
	c.waitLeader(10 * time.Second)
	c.waitConverged(10 * time.Second)
	ncl := client.New(nd.addr, 2*time.Second)
	defer ncl.Close()
	v, found, err := ncl.Get(context.Background(), "k19", true)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, "v", v)
}
