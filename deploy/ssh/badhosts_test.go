package ssh_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	sshdeploy "github.com/gauntlet-dev/gauntlet/deploy/ssh"
	"github.com/gauntlet-dev/gauntlet/deploy/ssh/internal/testhosts"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/targets/kvnode"
)

// TestBadHosts: every way a host can be wrong ends the run before any
// fault with exit 64 (the user's files) or 3 (the host), the host named,
// and nothing left on any host.
func TestBadHosts(t *testing.T) {
	h := testhosts.Start(t, 2, testhosts.Options{NoNft: map[int]bool{1: true}})
	otherKey := filepath.Join(h.Dir, "other_key")
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "not authorized")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(otherKey, pem.EncodeToMemory(block), 0o600))
	emptyKnown := filepath.Join(h.Dir, "known_hosts_empty")
	require.NoError(t, os.WriteFile(emptyKnown, nil, 0o600))

	host := func(i int, extra string) string {
		return fmt.Sprintf("  - address: %s\n    data_dir: %s\n%s", h.Addrs[i], h.DataDirs[i], extra)
	}
	for _, tc := range []struct {
		name, yaml string
		code       int
		names      string // the host the error must name
		says       string
	}{
		{"unreachable", fmt.Sprintf("user: root\nkey: %s\nknown_hosts: %s\nhosts:\n%s", h.Key, h.KnownHosts, host(0, "    port: 2\n")),
			harness.ExitRunFail, h.Addrs[0] + ":2", "unreachable"},
		{"wrong key", fmt.Sprintf("user: root\nkey: %s\nknown_hosts: %s\nhosts:\n%s", otherKey, h.KnownHosts, host(0, "")),
			harness.ExitUsage, h.Addrs[0] + ":22", "login as root refused"},
		{"unknown host key", fmt.Sprintf("user: root\nkey: %s\nknown_hosts: %s\nhosts:\n%s", h.Key, emptyKnown, host(0, "")),
			harness.ExitUsage, h.Addrs[0] + ":22", "host key unknown"},
		{"no nft", fmt.Sprintf("user: root\nkey: %s\nknown_hosts: %s\nhosts:\n%s%s", h.Key, h.KnownHosts, host(0, ""), host(1, "")),
			harness.ExitUsage, h.Addrs[1] + ":22", "no nft command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(h.Dir, "bad.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			test := harness.Test{Name: "bad", System: "raft", Deploy: "ssh", Hosts: path, Workload: "kv",
				Nodes: 1, Nemesis: []string{"partition"}, TimeLimit: harness.Duration(5 * time.Second), Seed: 1, Out: t.TempDir()}
			if tc.name == "no nft" {
				test.Nodes = 2
			}
			res, err := registry.Run(t.Context(), test, registry.RunOptions{NoReport: true})
			require.Error(t, err)
			assert.Equal(t, tc.code, exitCode(res, err), "%v", err)
			assert.Contains(t, err.Error(), tc.names, "the error names the host")
			assert.Contains(t, err.Error(), tc.says)
			if res != nil {
				assert.Zero(t, res.Ops, "no operation ran")
			}
			assertClean(t, h, 2)
		})
	}
}

// TestLatencyRefusedWithoutNetem: a kernel without sch_netem (this one, at
// the time of writing) refuses latency faults at configuration time.
func TestLatencyRefusedWithoutNetem(t *testing.T) {
	h := testhosts.Start(t, 1, testhosts.Options{})
	hosts := h.HostsFile(t, 0, "")
	d := sshdeploy.New(sshdeploy.Options{Hosts: hosts})
	if d.Supports(nil, harness.FaultLatency) {
		t.Skip("this kernel has sch_netem: latency is supported here")
	}
	test := harness.Test{Name: "latency", System: "raft", Deploy: "ssh", Hosts: hosts, Workload: "kv",
		Nodes: 1, Nemesis: []string{"latency"}, TimeLimit: harness.Duration(5 * time.Second), Seed: 1, Out: t.TempDir()}
	res, err := registry.Run(t.Context(), test, registry.RunOptions{NoReport: true})
	assert.Equal(t, harness.ExitUsage, exitCode(res, err), "%v", err)
	assertClean(t, h, 1)
}

// warnings records the deployment's warnings.
type warnings struct {
	mu  sync.Mutex
	got []string
}

func (w *warnings) Warn(msg string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, fmt.Sprint(append([]any{msg}, args...)...))
}
func (w *warnings) Info(string, ...any)  {}
func (w *warnings) Error(string, ...any) {}
func (w *warnings) Debug(string, ...any) {}

// TestInsecureHostKeysAreLoud: insecure_ignore_host_keys connects to a host
// whose key is nowhere listed, and says so, with the key, at every
// connection. It logs in with the key in an ssh-agent (agent: true).
func TestInsecureHostKeysAreLoud(t *testing.T) {
	h := testhosts.Start(t, 1, testhosts.Options{})
	startAgent(t, h.Key)
	hosts := filepath.Join(h.Dir, "insecure.yaml")
	require.NoError(t, os.WriteFile(hosts, []byte(fmt.Sprintf("user: root\nagent: true\ninsecure_ignore_host_keys: true\nhosts:\n  - address: %s\n    data_dir: %s\n",
		h.Addrs[0], h.DataDirs[0])), 0o600))
	w := &warnings{}
	d := sshdeploy.New(sshdeploy.Options{Hosts: hosts, Logger: w})
	c, err := d.Deploy(t.Context(), harness.ClusterSpec{Nodes: 1, System: kvnode.New("raft"), RunID: "insecure", Dir: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, c.Close(t.Context()))
	w.mu.Lock()
	defer w.mu.Unlock()
	require.NotEmpty(t, w.got)
	assert.Contains(t, w.got[0], "INSECURE")
	assert.Contains(t, w.got[0], "SHA256:", "the warning shows the key it accepted")
	assert.Contains(t, w.got[0], h.Addrs[0])
	assertClean(t, h, 1)
}

// TestBadHostsFileIsRefusedBeforeTheRun: no --hosts, or a hosts file that
// does not parse, is exit 64 before a run folder exists (no root needed).
func TestBadHostsFileIsRefusedBeforeTheRun(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "hosts.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("hosts:\n  - adress: 10.0.0.1\n"), 0o600))
	for hosts, want := range map[string]string{"": "--hosts FILE", bad: "field adress not found"} {
		out := t.TempDir()
		test := harness.Test{Name: "bad", System: "raft", Deploy: "ssh", Hosts: hosts, Workload: "kv", Nodes: 1,
			TimeLimit: harness.Duration(time.Second), Seed: 1, Out: out}
		res, err := registry.Run(t.Context(), test, registry.RunOptions{NoReport: true})
		assert.Equal(t, harness.ExitUsage, exitCode(res, err))
		assert.ErrorContains(t, err, want)
		entries, _ := os.ReadDir(out)
		assert.Empty(t, entries, "nothing was started")
	}
}

// startAgent runs an ssh-agent holding key for the test, at SSH_AUTH_SOCK.
func startAgent(t *testing.T, key string) {
	for _, tool := range []string{"ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (openssh-client)", tool)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	require.NoError(t, agent.Start())
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	t.Setenv("SSH_AUTH_SOCK", sock)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := exec.Command("ssh-add", key).CombinedOutput()
		if err == nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "ssh-add: %v: %s", err, out)
		time.Sleep(50 * time.Millisecond)
	}
}
