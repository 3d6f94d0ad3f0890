package ssh

// Every call into harness.System is in this file: the System interface is
// being reshaped (Launch with a context and an error, Build optional), and
// this is the one place to adapt.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/internal/source"
	"github.com/gauntlet-dev/gauntlet/internal/static"
)

// Packager is implemented by systems whose node is a Go command of the
// gauntlet module (kvnode): the deployment builds it static for the hosts'
// architecture. Other systems' Build must return a static Linux binary.
type Packager interface {
	GoPackage() string
}

// nodeBinary returns a static Linux binary of sys's node for arch (GOARCH).
func nodeBinary(ctx context.Context, sys harness.System, arch, cacheDir string) (string, error) {
	if p, ok := sys.(Packager); ok {
		return goBuild(ctx, p.GoPackage(), "node-"+sys.Name(), arch, cacheDir)
	}
	bin, err := sys.Build(ctx, cacheDir)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", sys.Name(), err)
	}
	if err := static.Check(bin); err != nil {
		return "", fmt.Errorf("%s: %w", sys.Name(), err)
	}
	return bin, nil
}

// built memoizes goBuild per process: a campaign deploys many clusters, a
// link takes seconds, and the sources do not change under one command.
var built struct {
	sync.Mutex
	bins map[string]string
}

// goBuild builds pkg with CGO_ENABLED=0 for linux/arch into cacheDir, once
// per process.
func goBuild(ctx context.Context, pkg, name, arch, cacheDir string) (string, error) {
	built.Lock()
	defer built.Unlock()
	key := pkg + " " + arch + " " + cacheDir
	if bin, ok := built.bins[key]; ok {
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	bin, err := build(ctx, pkg, name, arch, cacheDir)
	if err == nil {
		if built.bins == nil {
			built.bins = map[string]string{}
		}
		built.bins[key] = bin
	}
	return bin, err
}

func build(ctx context.Context, pkg, name, arch, cacheDir string) (string, error) {
	mod, err := source.ModuleDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	out := filepath.Join(cacheDir, name+"-linux-"+arch)
	tmp, err := os.CreateTemp(cacheDir, name+"-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp.Name(), pkg)
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, bytes.TrimSpace(msg))
	}
	// Parallel runs build at once: each to its own file, then a rename.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// launch is the command line of a node.
func launch(sys harness.System, binary string, n harness.NodeSpec) harness.Launch {
	return sys.Launch(binary, n)
}

// sharedPeers tells whether sys needs a separate peer listener.
func sharedPeers(sys harness.System) bool {
	sp, ok := sys.(harness.SharedPeers)
	return ok && sp.SharedPeers()
}

// setClock offsets the clock of the node at addr.
func setClock(ctx context.Context, sys harness.System, addr string, off time.Duration) error {
	return sys.SetClock(ctx, addr, off)
}

// clockSupported asks SetClock with a cancelled context (as deploy/local
// does): a system without a clock API says ErrUnsupported without dialling.
// On main this becomes a type assertion on harness.ClockSetter.
func clockSupported(sys harness.System) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return !errors.Is(sys.SetClock(ctx, "127.0.0.1:1", 0), harness.ErrUnsupported)
}

// leader is the node that says it leads with the highest term.
func leader(ctx context.Context, sys harness.System, nodes []string, addr func(string) string) (string, error) {
	best, term := "", uint64(0)
	for _, n := range nodes {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := sys.Status(sctx, addr(n))
		cancel()
		if err == nil && st.Role == "leader" && (best == "" || st.Term > term) {
			best, term = n, st.Term
		}
	}
	if best == "" {
		return "", errors.New("ssh: no node says it leads")
	}
	return best, nil
}
