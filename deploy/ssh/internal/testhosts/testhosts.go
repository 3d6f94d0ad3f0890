// Package testhosts makes SSH test hosts on this machine: network
// namespaces on a private bridge, each running Debian's sshd on its own
// address. It needs root, ip and sshd; without them tests skip, unless
// GAUNTLET_REQUIRE_SSH=1 (CI), which makes them fail.
//
// Layout (names carry the test process's pid, so a later test run removes
// what a killed one left):
//
//	root ns: veth gs<pid>r, 10.a.b.1/24 — the harness's side
//	gs<pid>sw: bridge br0, with the root veth and one veth per host
//	gs<pid>h<i>: eth0 10.a.b.(10+i)/24, lo, sshd -D on port 22
//
// The bridge lives in a namespace of its own: in the root namespace,
// br_netfilter would send bridged packets through Docker's FORWARD chain
// (policy drop). The namespaces share the file system and process table,
// so each host gets its own sshd config, host key and data folder.
package testhosts

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// RequireEnv, set to 1, makes tests fail instead of skipping without root or sshd.
const RequireEnv = "GAUNTLET_REQUIRE_SSH"

const sshd = "/usr/sbin/sshd"

// started counts Start calls of this process (names must not repeat).
var started atomic.Int64

// Hosts is a set of running test hosts.
type Hosts struct {
	Dir        string   // temporary folder of keys, configs, data
	Key        string   // client private key (authorized on every host)
	KnownHosts string   // every host's key
	Addrs      []string // host i's address
	NS         []string // host i's network namespace
	DataDirs   []string // host i's data folder
	HarnessIP  string   // the root namespace's address on the bridge
	pid        string   // <pid>n<counter>
	rootIf     string
	sshds      []*exec.Cmd
}

// Options shape the hosts.
type Options struct {
	// NoNft hides nft (and tc, ip) from host i's sessions: sshd sets PATH
	// without /usr/sbin.
	NoNft map[int]bool
}

// Skip skips t unless the machine can make test hosts; with
// GAUNTLET_REQUIRE_SSH=1 it fails instead.
func Skip(t testing.TB) {
	t.Helper()
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "test hosts need root (network namespaces)"
	case !exists(sshd):
		why = "test hosts need " + sshd + " (apt-get install openssh-server)"
	}
	if why == "" {
		if _, err := exec.LookPath("ip"); err != nil {
			why = "test hosts need the ip command (iproute2)"
		}
	}
	if why == "" {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s, and %s=1", why, RequireEnv)
	}
	t.Skip(why)
}

// Start makes n hosts; t.Cleanup removes them.
func Start(t testing.TB, n int, o Options) *Hosts {
	t.Helper()
	Skip(t)
	sweepStale(t)
	// pid and a counter: the kernel removes a deleted namespace's links
	// asynchronously, so the next test must not reuse the names.
	h := &Hosts{Dir: t.TempDir(), pid: fmt.Sprintf("%dn%d", os.Getpid(), started.Add(1))}
	t.Cleanup(func() { h.Close(t) })
	prefix := pickSubnet(t)
	h.HarnessIP = prefix + ".1"
	sw := "gs" + h.pid + "sw"
	run(t, "ip", "netns", "add", sw)
	h.NS = append(h.NS, sw) // removed with the hosts'
	inSw := func(args ...string) { run(t, append([]string{"ip", "netns", "exec", sw}, args...)...) }
	inSw("ip", "link", "add", "br0", "type", "bridge")
	inSw("ip", "link", "set", "br0", "up")
	inSw("ip", "link", "set", "lo", "up")
	rootIf := "gs" + h.pid + "r"
	h.rootIf = rootIf
	run(t, "ip", "link", "add", rootIf, "type", "veth", "peer", "name", "up0", "netns", sw)
	inSw("ip", "link", "set", "up0", "master", "br0", "up")
	run(t, "ip", "addr", "add", h.HarnessIP+"/24", "dev", rootIf)
	run(t, "ip", "link", "set", rootIf, "up")

	signer := h.clientKey(t)
	var known bytes.Buffer
	if !exists("/run/sshd") {
		require.NoError(t, os.MkdirAll("/run/sshd", 0o755)) // sshd's privilege separation folder
	}
	for i := range n {
		ns := fmt.Sprintf("gs%sh%d", h.pid, i+1)
		addr := fmt.Sprintf("%s.%d", prefix, 10+i+1)
		run(t, "ip", "netns", "add", ns)
		h.NS = append(h.NS, ns)
		run(t, "ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", fmt.Sprintf("p%d", i+1), "netns", sw)
		inSw("ip", "link", "set", fmt.Sprintf("p%d", i+1), "master", "br0", "up")
		inNs := func(args ...string) { run(t, append([]string{"ip", "netns", "exec", ns}, args...)...) }
		inNs("ip", "addr", "add", addr+"/24", "dev", "eth0")
		inNs("ip", "link", "set", "eth0", "up")
		inNs("ip", "link", "set", "lo", "up")
		pub := h.startSSHD(t, i+1, ns, addr, signer, o.NoNft[i])
		known.WriteString(knownhosts.Line([]string{addr}, pub) + "\n")
		h.Addrs = append(h.Addrs, addr)
		h.DataDirs = append(h.DataDirs, filepath.Join(h.Dir, fmt.Sprintf("host%d", i+1)))
	}
	h.KnownHosts = filepath.Join(h.Dir, "known_hosts")
	require.NoError(t, os.WriteFile(h.KnownHosts, known.Bytes(), 0o600))
	for _, a := range h.Addrs {
		waitPort(t, net.JoinHostPort(a, "22"))
	}
	return h
}

// clientKey writes the client's ed25519 key and returns its public half.
func (h *Hosts) clientKey(t testing.TB) ssh.PublicKey {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "gauntlet test")
	require.NoError(t, err)
	h.Key = filepath.Join(h.Dir, "id_ed25519")
	require.NoError(t, os.WriteFile(h.Key, pem.EncodeToMemory(block), 0o600))
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(h.Dir, "authorized_keys"), ssh.MarshalAuthorizedKey(sp), 0o600))
	return sp
}

// startSSHD starts sshd -D in ns and returns its host key.
func (h *Hosts) startSSHD(t testing.TB, i int, ns, addr string, _ ssh.PublicKey, noNft bool) ssh.PublicKey {
	dir := filepath.Join(h.Dir, fmt.Sprintf("sshd%d", i))
	require.NoError(t, os.MkdirAll(dir, 0o700))
	key := filepath.Join(dir, "host_key")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	cfg := fmt.Sprintf(`ListenAddress %s
Port 22
HostKey %s
PidFile %s/sshd.pid
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 100
MaxStartups 100
`, addr, key, dir, filepath.Join(h.Dir, "authorized_keys"))
	if noNft {
		cfg += "SetEnv PATH=/usr/bin:/bin\n"
	}
	path := filepath.Join(dir, "sshd_config")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	cmd := exec.Command("ip", "netns", "exec", ns, sshd, "-D", "-e", "-f", path)
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	h.sshds = append(h.sshds, cmd)
	b, err := os.ReadFile(key + ".pub")
	require.NoError(t, err)
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	require.NoError(t, err)
	return pub
}

// HostsFile writes a hosts file for the first n hosts (all if n is 0) with
// extra YAML appended to the defaults, and returns its path.
func (h *Hosts) HostsFile(t testing.TB, n int, extra string) string {
	if n == 0 {
		n = len(h.Addrs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "user: root\nkey: %s\nknown_hosts: %s\n%shosts:\n", h.Key, h.KnownHosts, extra)
	for i := range n {
		fmt.Fprintf(&b, "  - address: %s\n    data_dir: %s\n", h.Addrs[i], h.DataDirs[i])
	}
	p := filepath.Join(h.Dir, fmt.Sprintf("hosts-%d.yaml", time.Now().UnixNano()))
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o600))
	return p
}

// Exec runs a command in host i's namespace and returns its output.
func (h *Hosts) Exec(t testing.TB, i int, args ...string) string {
	out, err := exec.Command("ip", append([]string{"netns", "exec", h.NS[i+1]}, args...)...).CombinedOutput()
	require.NoError(t, err, "%v: %s", args, out)
	return string(out)
}

// Leftovers lists what Gauntlet left on host i: processes in its namespace
// other than sshd, nftables tables, files in its data folder. sshd's child
// for a connection just closed may take a moment to go: it waits up to 3 s
// for the list to be empty.
func (h *Hosts) Leftovers(t testing.TB, i int) []string {
	deadline := time.Now().Add(3 * time.Second)
	for {
		out := h.Snapshot(t, i)
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Snapshot is Leftovers at once, for hosts where something is expected.
func (h *Hosts) Snapshot(t testing.TB, i int) []string {
	var out []string
	pids, _ := exec.Command("ip", "netns", "pids", h.NS[i+1]).Output()
	for _, p := range strings.Fields(string(pids)) {
		exe, _ := os.Readlink("/proc/" + p + "/exe")
		if exe != sshd {
			out = append(out, "process "+p+" "+exe)
		}
	}
	if tables := strings.TrimSpace(h.Exec(t, i, "nft", "list", "tables")); tables != "" {
		out = append(out, "nft: "+tables)
	}
	entries, _ := os.ReadDir(h.DataDirs[i])
	for _, e := range entries {
		out = append(out, "file "+filepath.Join(h.DataDirs[i], e.Name()))
	}
	return out
}

// Close stops every sshd, kills what is left in the namespaces and
// removes them (which removes the bridge and the veths).
func (h *Hosts) Close(t testing.TB) {
	for _, c := range h.sshds {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	h.sshds = nil
	if h.rootIf != "" {
		_ = exec.Command("ip", "link", "del", h.rootIf).Run()
	}
	for _, ns := range h.NS {
		removeNS(ns)
	}
	h.NS = nil
}

func removeNS(ns string) {
	pids, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, p := range strings.Fields(string(pids)) {
		if pid, err := strconv.Atoi(p); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
}

// sweepStale removes namespaces of test processes that died without
// cleaning up (gs<pid>…, pid no longer running).
func sweepStale(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, "gs")
		if !ok {
			continue
		}
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end <= 0 {
			continue
		}
		pid, _ := strconv.Atoi(rest[:end])
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		t.Logf("removing network namespace %s of dead test process %d", name, pid)
		removeNS(name)
		if links, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
			for _, l := range strings.Split(string(links), "\n") {
				f := strings.Fields(l)
				if len(f) > 1 && strings.HasPrefix(f[1], fmt.Sprintf("gs%dn", pid)) {
					_ = exec.Command("ip", "link", "del", strings.TrimSuffix(strings.Split(f[1], "@")[0], ":")).Run()
				}
			}
		}
	}
}

// pickSubnet finds a 10.213.x.0/24 no interface here uses.
func pickSubnet(t testing.TB) string {
	addrs, _ := net.InterfaceAddrs()
	for x := os.Getpid() % 250; ; x = (x + 1) % 250 {
		p := netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", x))
		free := true
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP.To4()); ok && p.Contains(ip) {
					free = false
				}
			}
		}
		if free {
			return fmt.Sprintf("10.213.%d", x)
		}
	}
}

func waitPort(t testing.TB, addr string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd at %s never listened: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func run(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
