package docker_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/deploy/docker"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/etcd"
)

// TestEtcd runs a system the deployment does not build (a static etcd from
// GAUNTLET_ETCD_BINARY, opt-in: building etcd takes minutes) with separate
// client and peer listeners (harness.SharedPeers), and isolates its leader.
func TestEtcd(t *testing.T) {
	bin := os.Getenv("GAUNTLET_ETCD_BINARY")
	if bin == "" {
		t.Skip("set GAUNTLET_ETCD_BINARY to a static etcd to run etcd in containers")
	}
	if err := docker.Available(t.Context()); err != nil {
		t.Skipf("Docker is not available: %v", err)
	}
	d := docker.New(docker.Options{CacheDir: t.TempDir()})
	c, err := d.Deploy(t.Context(), harness.ClusterSpec{
		Nodes: 3, System: etcd.New(etcd.Options{Binary: bin}), RunID: "test-etcd-" + time.Now().Format("150405.000"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close(context.Background())) })
	dc := c.(*docker.Cluster)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, dc.WaitHealthy(ctx))

	leader, err := dc.Leader(ctx)
	require.NoError(t, err)
	var others []string
	for _, id := range c.Nodes() {
		if id != leader {
			others = append(others, id)
		}
	}
	start := time.Now()
	require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{leader}, others)))
	for {
		l, err := dc.Leader(ctx)
		if err == nil && l != leader {
			t.Logf("etcd: %s isolated, %s leads after %v", leader, l, time.Since(start).Round(time.Millisecond))
			break
		}
		require.NoError(t, ctx.Err(), "no new leader")
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, c.Heal(ctx))
	require.NoError(t, dc.WaitHealthy(ctx))
}
