package ssh

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// What Gauntlet leaves on a host, and how it is found again (the tags):
//   - files: only under <data_dir>/gauntlet-<run>/ (binary, data, logs, pids);
//   - processes: those whose executable or working directory is under
//     <data_dir>/gauntlet-*/ (nodes start in their folder, so an installed
//     node_binary is found too);
//   - nftables: the table "inet gauntlet" (per network namespace);
//   - tc: a root qdisc with handle 6761: ("ga") on the interface to the peers.
// sweepScript removes all of them, so the next run cleans up after a
// harness that was SIGKILLed; teardown runs it for the run's own things.

// tableName is the nftables table of ours on every host.
const tableName = "gauntlet"

// qdiscHandle tags our root qdisc (latency); 0x6761 = "ga".
const qdiscHandle = "6761:"

// sweepScript kills the processes run from dirs matching glob, removes our
// table and qdiscs, then the dirs. NFT and TC are set by the caller to the
// commands (with sudo -n if needed).
const sweepScript = `
base=%s; glob=%s
for p in /proc/[0-9]*; do
  exe=$(readlink "$p/exe" 2>/dev/null) || continue
  cwd=$(readlink "$p/cwd" 2>/dev/null)
  case "$exe $cwd" in "$base"/$glob/*|*" $base"/$glob/*) kill -KILL "${p#/proc/}" 2>/dev/null && echo "killed ${p#/proc/} $exe in $cwd";; esac
done
if command -v nft >/dev/null 2>&1; then
  printf 'table inet %[3]s\ndelete table inet %[3]s\n' | $NFT -f - 2>/dev/null && echo "nft: table %[3]s removed"
fi
if command -v tc >/dev/null 2>&1; then
  for d in $(ls /sys/class/net); do
    if $TC qdisc show dev "$d" 2>/dev/null | grep -q "qdisc [a-z_]* %[4]s root"; then
      $TC qdisc del dev "$d" root && echo "tc: qdisc removed from $d"
    fi
  done
fi
rm -rf "$base"/$glob
`

// sweep runs sweepScript for the run dirs matching glob (a run's own name,
// or gauntlet-* for everything a previous run left).
func sweep(ctx context.Context, c *conn, glob string) (string, error) {
	cmd := fmt.Sprintf("NFT=%s; TC=%s;", quote(c.root("nft")), quote(c.root("tc"))) +
		fmt.Sprintf(sweepScript, quote(c.host.DataDir), glob, tableName, qdiscHandle)
	return c.fast(ctx, cmd)
}

// probeScript says what the host offers, as key=value lines.
const probeScript = `
echo arch=$(uname -m)
if command -v nft >/dev/null 2>&1; then
  if err=$(printf 'table inet gauntlet_probe\ndelete table inet gauntlet_probe\n' | $NFT -f - 2>&1); then echo nft=ok; else echo "nft=$err"; fi
else echo "nft=no nft command on the host (install the nftables package)"; fi
if ! command -v tc >/dev/null 2>&1; then echo "netem=no tc command on the host (install iproute2)"
elif err=$($TC qdisc add dev lo root handle 6763: netem delay 1us 2>&1); then $TC qdisc del dev lo root handle 6763:; echo netem=ok
else echo "netem=$err"; fi
echo dev=$(ip -o route get %s 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')
mkdir -p %s && echo dir=ok
`

// probe is what a host offers.
type probe struct {
	arch, nft, netem, dev string
}

func runProbe(ctx context.Context, c *conn, peer string) (probe, error) {
	cmd := fmt.Sprintf("NFT=%s; TC=%s;", quote(c.root("nft")), quote(c.root("tc"))) +
		fmt.Sprintf(probeScript, quote(peer), quote(c.host.DataDir))
	out, err := c.fast(ctx, cmd)
	if err != nil {
		return probe{}, err
	}
	var p probe
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "arch":
			p.arch = goarch(v)
		case "nft":
			p.nft = v
		case "netem":
			p.netem = v
		case "dev":
			p.dev = v
		}
	}
	return p, nil
}

func goarch(uname string) string {
	switch uname {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "armv7l", "armv6l":
		return "arm"
	}
	return uname
}

// upload writes local file src to path on the host, executable, through
// the shell (no SFTP subsystem needed).
func upload(ctx context.Context, c *conn, src, path string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	q := quote(path)
	_, err = c.run(ctx, fmt.Sprintf("mkdir -p %s && cat > %s.tmp && chmod 755 %s.tmp && mv %s.tmp %s",
		quote(filepath.Dir(path)), q, q, q, q), f)
	return err
}

// startScript starts the node in its own session (setsid: it survives the
// SSH session and gets no SIGHUP), records its pid and prints it.
func startScript(dir, bin string, l harness.Launch) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cd %s && mkdir -p data && { setsid env", quote(dir))
	for _, kv := range l.Env {
		b.WriteString(" " + quote(kv))
	}
	b.WriteString(" " + quote(bin))
	for _, a := range l.Args {
		b.WriteString(" " + quote(a))
	}
	b.WriteString(" >>node.log 2>&1 </dev/null & echo $! >pid; echo $!; }")
	// $! is setsid's pid, which becomes env's and then the node's by exec:
	// return once it is the node, or a Start right after would not see it
	// running (and a Kill would not recognise it).
	fmt.Fprintf(&b, `
pid=$(cat pid); i=0
while [ $i -lt 250 ]; do case "$(readlink /proc/$pid/exe 2>/dev/null)" in %s*) break;; esac; sleep 0.02; i=$((i+1)); done`, quote(bin))
	return b.String()
}

// signalScript sends sig to the node whose pid file is in dir, if its
// executable is still bin (a recycled pid is left alone); with wait, it
// waits until the process is gone (or a zombie) for at most 5 s.
func signalScript(dir, bin, sig string, wait bool) string {
	s := fmt.Sprintf(`pid=$(cat %s/pid 2>/dev/null) || exit 0
case "$(readlink /proc/$pid/exe 2>/dev/null)" in %s*) kill -%s $pid;; *) exit 0;; esac
`, quote(dir), quote(bin), sig)
	if wait {
		s += `i=0; while [ $i -lt 250 ] && [ -e /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null; do sleep 0.02; i=$((i+1)); done
[ $i -lt 250 ] || { echo "pid $pid still there after 5s" >&2; exit 1; }
`
	}
	return s
}

// alive says whether the node in dir runs (a stopped process counts).
func aliveScript(dir, bin string) string {
	return fmt.Sprintf(`pid=$(cat %s/pid 2>/dev/null) || { echo down; exit 0; }
case "$(readlink /proc/$pid/exe 2>/dev/null)" in %s*) grep -q '^State:.*Z' /proc/$pid/status && echo down || echo up;; *) echo down;; esac`,
		quote(dir), quote(bin))
}

// fetch copies the output of cmd on the host into the local file dst.
func fetch(ctx context.Context, c *conn, cmd, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	s, err := c.c.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := s.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.Start(cmd); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		_, cerr := io.Copy(f, r)
		if werr := s.Wait(); cerr == nil {
			cerr = werr
		}
		done <- cerr
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		s.Close()
		return fmt.Errorf("%s: no end after 5 minutes", firstWord(cmd))
	}
}
