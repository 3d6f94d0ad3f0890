package ssh

// Every call into harness.System is in this file.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
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
	b, ok := sys.(harness.Builder)
	if !ok {
		return "", fmt.Errorf("%s has no node binary to upload: the ssh deployment needs a Build (harness.Builder) returning a static Linux binary, or node_binary: in the hosts file", sys.Name())
	}
	bin, err := b.Build(ctx, cacheDir)
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
func launch(ctx context.Context, sys harness.System, n harness.NodeSpec) (harness.Launch, error) {
	return sys.Launch(ctx, n)
}

// writeFiles writes a Launch's files into the node's data directory on
// its host.
func writeFiles(ctx context.Context, c *conn, dataDir string, files map[string][]byte) error {
	for name, b := range files {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("launch file %q must be a relative path inside the data directory", name)
		}
		p := path.Join(dataDir, filepath.ToSlash(name))
		if _, err := c.run(ctx, fmt.Sprintf("mkdir -p %s && cat > %s", quote(path.Dir(p)), quote(p)), bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

// sharedPeers tells whether sys needs one peer map for all members.
func sharedPeers(sys harness.System) bool { return harness.IsSharedPeers(sys) }

// setClock offsets the clock of node n.
func setClock(ctx context.Context, sys harness.System, n harness.Node, off time.Duration) error {
	return harness.SetClockOf(ctx, sys, n, off)
}

// clockSupported: the system declares a clock API (harness.ClockSetter).
func clockSupported(sys harness.System) bool { return harness.Has(sys, harness.CapClock) }
