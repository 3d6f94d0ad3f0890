package ssh_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sshdeploy "github.com/gauntlet-dev/gauntlet/deploy/ssh"
	"github.com/gauntlet-dev/gauntlet/deploy/ssh/internal/testhosts"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/kvnode"
)

// helperEnv makes this test binary act as a harness that deploys, cuts a
// link and then waits to be SIGKILLed (see TestSIGKILLedHarnessIsSweptByTheNextRun).
const helperEnv = "GAUNTLET_SSH_TEST_HARNESS_HOSTS"

func TestHelperHarness(t *testing.T) {
	hosts := os.Getenv(helperEnv)
	if hosts == "" {
		t.Skip("helper process of TestSIGKILLedHarnessIsSweptByTheNextRun")
	}
	d := sshdeploy.New(sshdeploy.Options{Hosts: hosts})
	c, err := d.Deploy(context.Background(), harness.ClusterSpec{Nodes: 2, System: kvnode.New("raft"), RunID: "doomed", Dir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, c.Partition(context.Background(), harness.Symmetric([]string{"n1"}, []string{"n2"})))
	os.Stdout.WriteString("READY\n")
	time.Sleep(time.Hour)
}

// TestSIGKILLedHarnessIsSweptByTheNextRun: a harness killed with SIGKILL
// leaves nodes running, an nftables table and its folder on every host;
// the next deployment on those hosts removes all of it before it starts.
// The hosts use an installed node binary (node_binary, outside the data
// folder), so the dead run's nodes are found by their pid files.
// The next deployment then times partitions (checkPartitions).
func TestSIGKILLedHarnessIsSweptByTheNextRun(t *testing.T) {
	start := time.Now()
	h := testhosts.Start(t, 3, testhosts.Options{})
	bin := filepath.Join(h.Dir, "kvnode")
	build := exec.Command("go", "build", "-o", bin, kvnode.Package)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	msg, err := build.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	t0 := time.Now()
	t.Logf("static kvnode built in %s", time.Since(start).Round(time.Millisecond))
	hosts := h.HostsFile(t, 0, "node_binary: "+bin+"\n")

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHarness$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"="+hosts)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "READY") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		require.True(t, ok, "the helper harness ended before deploying")
	case <-time.After(2 * time.Minute):
		t.Fatal("the helper harness did not deploy within 2 minutes")
	}
	t.Logf("a harness process deployed and partitioned in %s; SIGKILL", time.Since(t0).Round(time.Millisecond))
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	go func() {
		for range ready {
		}
	}()
	var doomed []string // "process <pid> <exe>" of the dead run's nodes
	for i := range 2 {
		left := h.Snapshot(t, i)
		all := strings.Join(left, "\n")
		assert.Contains(t, all, "gauntlet-doomed", "host %d: the dead run's folder is still there", i+1)
		assert.Contains(t, all, "nft: table inet gauntlet", "host %d: the dead run's partition is still in force", i+1)
		for _, l := range left {
			// Only the nodes: the control shells of the dead connection
			// end on their own once sshd sees it gone.
			if strings.HasPrefix(l, "process ") && strings.HasSuffix(l, " "+bin) {
				doomed = append(doomed, l)
			}
		}
	}
	require.Len(t, doomed, 2, "the dead run's two nodes still run")

	t0 = time.Now()
	d := sshdeploy.New(sshdeploy.Options{Hosts: hosts})
	c, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: 3, System: kvnode.New("raft"), RunID: "next", Dir: t.TempDir()})
	require.NoError(t, err)
	defer c.Close(context.WithoutCancel(t.Context()))
	t.Logf("the next deployment swept and started 3 nodes in %s", time.Since(t0).Round(time.Millisecond))
	for i := range 3 {
		for _, l := range h.Snapshot(t, i) {
			assert.NotContains(t, l, "doomed", "host %d: the next run swept the dead one", i+1)
			assert.NotContains(t, l, "nft:", "host %d: no partition left in force", i+1)
			assert.NotContains(t, doomed, l, "host %d: the dead run's node was killed", i+1)
		}
	}
	checkPartitions(t, h, c)
	checkProcesses(t, c, filepath.Join(h.DataDirs[2], "gauntlet-next", "n3", "pid"))
	require.NoError(t, c.Close(t.Context()))
	assertClean(t, h, 3)
}

// checkProcesses pauses, resumes, kills, restarts and stops node n3, whose
// pid file (the hosts share this file system) is pidFile, and looks at the
// process each time.
func checkProcesses(t *testing.T, c harness.Cluster, pidFile string) {
	ctx := t.Context()
	state := func() string {
		b, err := os.ReadFile(pidFile)
		require.NoError(t, err)
		st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/status")
		if err != nil {
			return "gone"
		}
		for _, l := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "State:"); ok {
				return strings.Fields(v)[0]
			}
		}
		return "?"
	}
	pid := func() string { b, _ := os.ReadFile(pidFile); return strings.TrimSpace(string(b)) }
	// A signal is delivered asynchronously: the state changes soon after
	// the call returns, not necessarily before (CI saw "R" right after SIGSTOP).
	require.NoError(t, c.Pause(ctx, "n3"))
	assert.Eventually(t, func() bool { return state() == "T" }, 10*time.Second, 10*time.Millisecond, "SIGSTOP")
	require.NoError(t, c.Resume(ctx, "n3"))
	assert.Eventually(t, func() bool { return state() != "T" }, 10*time.Second, 10*time.Millisecond, "SIGCONT")
	first := pid()
	require.NoError(t, c.Kill(ctx, "n3"))
	assert.Contains(t, []string{"gone", "Z"}, state(), "SIGKILL, and Kill waits until it is gone")
	require.NoError(t, c.Start(ctx, "n3"))
	assert.NotEqual(t, first, pid(), "restarted as a new process")
	assert.NotContains(t, []string{"gone", "Z", "T"}, state(), "running (S, R, or D while it syncs)")
	running := pid()
	require.NoError(t, c.Start(ctx, "n3"))
	assert.Equal(t, running, pid(), "starting a running node is a no-op")
	require.NoError(t, c.Stop(ctx, "n3"))
	assert.Contains(t, []string{"gone", "Z"}, state(), "SIGTERM")
	require.NoError(t, c.Start(ctx, "n3"))
}
