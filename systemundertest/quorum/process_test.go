package quorum

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// TestKvnodeProcessesSIGKILL runs real `kvnode --mode quorum` processes:
// acknowledged writes survive SIGKILL of every node, repair through the
// HTTP route leaves every replica's digest equal — and with
// ack-before-fsync the same SIGKILL loses them.
func TestKvnodeProcessesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs kvnode processes")
	}
	bin := filepath.Join(t.TempDir(), "kvnode")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/gauntlet-dev/gauntlet/cmd/kvnode").CombinedOutput()
	require.NoError(t, err, "go build cmd/kvnode: %s", out)

	for _, bug := range []string{"", BugAckBeforeFsync} {
		t.Run("bug="+bug, func(t *testing.T) {
			base := t.TempDir()
			ids := []string{"n1", "n2", "n3"}
			addr := map[string]string{}
			var peers []string
			for _, id := range ids {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				addr[id] = ln.Addr().String()
				ln.Close() // kvnode binds it next; a thief would make it fail loudly
				peers = append(peers, id+"="+addr[id])
			}
			procs := map[string]*exec.Cmd{}
			start := func(id string) {
				logf, err := os.OpenFile(filepath.Join(base, id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				require.NoError(t, err)
				cmd := exec.Command(bin, "--mode", "quorum", "--id", id, "--listen", addr[id],
					"--peers", strings.Join(peers, ","), "--data", filepath.Join(base, id), "--bug", bug)
				cmd.Stdout, cmd.Stderr = logf, logf
				require.NoError(t, cmd.Start())
				logf.Close()
				procs[id] = cmd
				cl := client.New(addr[id], time.Second)
				defer cl.Close()
				require.Eventually(t, func() bool {
					_, err := cl.Status(context.Background())
					return err == nil
				}, 10*time.Second, 20*time.Millisecond, "%s never served", id)
			}
			kill := func(id string) {
				if p := procs[id]; p != nil {
					_ = p.Process.Signal(syscall.SIGKILL)
					_ = p.Wait()
					procs[id] = nil
				}
			}
			t.Cleanup(func() {
				for _, id := range ids {
					kill(id)
				}
				if t.Failed() {
					for _, id := range ids {
						data, _ := os.ReadFile(filepath.Join(base, id+".log"))
						t.Logf("=== %s\n%s", id, data)
					}
				}
			})
			for _, id := range ids {
				start(id)
			}
			cl := client.New(addr["n1"], 2*time.Second)
			defer cl.Close()
			for k := range 20 {
				require.NoError(t, cl.Put(context.Background(), fmt.Sprintf("k%d", k), fmt.Sprintf("v%d", k)))
			}
			for _, id := range ids {
				kill(id)
			}
			for _, id := range ids {
				start(id)
			}
			cl2 := client.New(addr["n2"], 2*time.Second)
			defer cl2.Close()
			lost := 0
			for k := range 20 {
				v, found, err := cl2.Get(context.Background(), fmt.Sprintf("k%d", k), false)
				require.NoError(t, err)
				if !found {
					lost++
					continue
				}
				assert.Equal(t, fmt.Sprintf("v%d", k), v)
			}
			if bug == BugAckBeforeFsync {
				assert.Positive(t, lost, "SIGKILL inside the flush window should lose acknowledged writes")
				return
			}
			assert.Zero(t, lost, "acknowledged writes lost after SIGKILL")

			repairedAgree(t, ids, addr)
		})
	}
}

// repairedAgree runs a repair pass on every node and checks that every node
// then holds every key with the same value.
func repairedAgree(t *testing.T, ids []string, addr map[string]string) {
	hc := &http.Client{Timeout: 10 * time.Second}
	for _, id := range ids {
		res, err := RepairAt(context.Background(), hc, addr[id])
		require.NoError(t, err)
		assert.Equal(t, res.Keys, res.Repaired)
	}
	var first map[string]string
	for _, id := range ids {
		c := client.New(addr[id], 2*time.Second)
		d, err := c.Digest(context.Background())
		c.Close()
		require.NoError(t, err)
		if first == nil {
			first = d.Values
		}
		assert.Equal(t, first, d.Values, "N=3 of 3 nodes: every node holds every key")
		assert.Len(t, d.Values, 20)
	}
}
