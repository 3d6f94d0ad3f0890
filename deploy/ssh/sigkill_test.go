package ssh_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
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
func TestSIGKILLedHarnessIsSweptByTheNextRun(t *testing.T) {
	h := testhosts.Start(t, 2, testhosts.Options{})
	hosts := h.HostsFile(t, 0, "")
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
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	go func() {
		for range ready {
		}
	}()
	for i := range 2 {
		left := strings.Join(h.Leftovers(t, i), "\n")
		assert.Contains(t, left, "gauntlet-doomed", "host %d: the dead run's node and folder are still there", i+1)
		assert.Contains(t, left, "nft: table inet gauntlet", "host %d: the dead run's partition is still in force", i+1)
	}

	d := sshdeploy.New(sshdeploy.Options{Hosts: hosts})
	c, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: 2, System: kvnode.New("raft"), RunID: "next", Dir: t.TempDir()})
	require.NoError(t, err)
	for i := range 2 {
		for _, l := range h.Leftovers(t, i) {
			assert.NotContains(t, l, "doomed", "host %d: the next run swept the dead one", i+1)
			assert.NotContains(t, l, "nft:", "host %d: no partition left in force", i+1)
		}
	}
	require.NoError(t, c.Close(t.Context()))
	assertClean(t, h, 2)
}
