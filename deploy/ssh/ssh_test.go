package ssh_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/deploy/ssh/internal/testhosts"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// exitCode is what `gauntlet run` would exit with.
func exitCode(res *harness.Results, err error) int {
	var ce *harness.ConfigError
	if errors.As(err, &ce) {
		return harness.ExitUsage
	}
	return res.ExitCode()
}

func assertClean(t *testing.T, h *testhosts.Hosts, n int) {
	t.Helper()
	for i := range n {
		assert.Empty(t, h.Leftovers(t, i), "host %d (%s) after the run", i+1, h.Addrs[i])
	}
}

// TestRunOverSSH runs the correct raft store under partition, kill and pause
// on three SSH hosts (valid), then with stale-read (invalid), and checks
// that nothing is left on the hosts after either.
func TestRunOverSSH(t *testing.T) {
	h := testhosts.Start(t, 3, testhosts.Options{})
	hosts := h.HostsFile(t, 0, "")
	out := t.TempDir()
	base := harness.Test{System: "raft", Deploy: "ssh", Hosts: hosts, Workload: "kv", Nodes: 3, Concurrency: 6,
		NemesisInterval: harness.Duration(time.Second), TimeLimit: harness.Duration(15 * time.Second), Out: out}

	valid := base
	// The nemesis draws a package per fault from the seed: seed 1 draws no
	// pause in this run's seven faults, seed 2 draws all three.
	valid.Name, valid.Seed, valid.Nemesis = "ssh-valid", 2, []string{"partition", "kill", "pause"}
	res, err := registry.Run(t.Context(), valid, registry.RunOptions{NoReport: true})
	require.NoError(t, err)
	assert.Equal(t, harness.Valid, res.Verdict, "results in %s", res.Dir)
	t.Logf("valid run: %d ops, %s of test time, %s in all; faults %v (load: %s)", res.Ops, res.TestTime.D(), res.Duration.D(), faultKinds(t, res.Dir), loadavg())
	assert.Greater(t, res.Ops, 100)
	faults := faultKinds(t, res.Dir)
	for _, f := range []string{"partition", "kill", "pause"} {
		assert.Contains(t, faults, f, "the run made no %s fault", f)
	}
	log, err := os.ReadFile(filepath.Join(res.Dir, harness.NodesDir, "n1", "node.log"))
	require.NoError(t, err, "node logs are collected")
	assert.NotEmpty(t, log)
	assertClean(t, h, 3)

	bug := base
	bug.Name, bug.Seed, bug.Bug, bug.Nemesis, bug.StopOnViolation = "ssh-stale-read", 1, "stale-read", []string{"partition"}, true
	res, err = registry.Run(t.Context(), bug, registry.RunOptions{NoReport: true})
	require.NoError(t, err)
	assert.Equal(t, harness.Invalid, res.Verdict, "stale-read must be caught; results in %s", res.Dir)
	assertClean(t, h, 3)
}

// faultKinds lists the nemesis packages that started a fault in the run.
func faultKinds(t *testing.T, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, harness.HistoryFile))
	require.NoError(t, err)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, `"process":"nemesis"`) {
			continue
		}
		for _, k := range []string{"partition", "kill", "pause"} {
			if strings.Contains(line, `"f":"start-`+k) && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// checkPartitions cuts a link for real and measures how long applying and
// healing a partition takes (one nft transaction per host, in parallel,
// through each host's control shell).
func checkPartitions(t *testing.T, h *testhosts.Hosts, c harness.Cluster) {
	ctx := t.Context()
	node2 := c.ClientAddr("n2")
	require.NoError(t, reach(h, 0, node2, time.Minute), "n1's host reaches n2's port before the partition")
	var apply, heal []time.Duration
	for range 10 {
		t0 := time.Now()
		require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n1"}, []string{"n2", "n3"})))
		apply = append(apply, time.Since(t0))
		t0 = time.Now()
		require.NoError(t, c.Heal(ctx))
		heal = append(heal, time.Since(t0))
	}
	require.NoError(t, c.Partition(ctx, harness.Symmetric([]string{"n1"}, []string{"n2", "n3"})))
	assert.Contains(t, h.Exec(t, 0, "nft", "list", "table", "inet", "gauntlet"), "saddr "+h.Addrs[1]+" drop")
	assert.Error(t, reach(h, 0, node2, 2*time.Second), "n1's host must not reach n2 while partitioned")
	require.NoError(t, c.Heal(ctx))
	require.NoError(t, reach(h, 0, node2, 15*time.Second), "healed")
	t.Logf("partition apply over SSH (3 hosts, 10 times): median %s, max %s; heal: median %s, max %s (load: %s)",
		median(apply), slices.Max(apply), median(heal), slices.Max(heal), loadavg())

	// Loss: all packets from n1 to its peers, none to anyone else.
	require.NoError(t, c.Netem(ctx, harness.LinkFault{Loss: 1}))
	assert.Contains(t, h.Exec(t, 0, "nft", "list", "table", "inet", "gauntlet"), "daddr "+h.Addrs[1]+" drop")
	assert.Error(t, reach(h, 0, node2, 2*time.Second), "total loss from n1 to n2")
	require.NoError(t, c.Netem(ctx, harness.LinkFault{Loss: 0.3}))
	assert.Contains(t, h.Exec(t, 0, "nft", "list", "table", "inet", "gauntlet"), "daddr "+h.Addrs[1]+" numgen random mod 10000 < 3000 drop")
	require.NoError(t, c.Heal(ctx))
	require.NoError(t, reach(h, 0, node2, 15*time.Second), "healed")
	if !c.Supports(harness.FaultLatency) {
		assert.ErrorIs(t, c.Netem(ctx, harness.LinkFault{Latency: 10 * time.Millisecond}), harness.ErrUnsupported)
	}
	// Clock: through kvnode's clock API at the client address.
	require.NoError(t, c.SetClock(ctx, "n1", 3*time.Second))
	require.NoError(t, c.SetClock(ctx, "n1", 0))
}

// reach dials addr from host i's namespace until it answers or limit passes.
func reach(h *testhosts.Hosts, i int, addr string, limit time.Duration) error {
	host, port, _ := strings.Cut(addr, ":")
	deadline := time.Now().Add(limit)
	for {
		err := exec.Command("ip", "netns", "exec", h.NS[i+1], "timeout", "1", "bash", "-c",
			fmt.Sprintf("exec 3<>/dev/tcp/%s/%s", host, port)).Run()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Microsecond)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
