package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/gauntlet-dev/gauntlet/deploy/internal/nodes"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/internal/source"
	"github.com/gauntlet-dev/gauntlet/internal/static"
)

const (
	modulePath   = source.ModulePath
	faultPackage = modulePath + "/cmd/gauntlet-fault"

	faultPath = "/gauntlet-fault" // where the helper sits in the holder image
	nodePath  = "/node"           // where the node binary sits in the node image
)

// images builds (or finds, by content hash) the holder and node images.
func (d *Deployment) images(ctx context.Context, sys harness.System, log harness.Logger) (holder, node string, err error) {
	faultBin, err := d.goBuild(ctx, faultPackage, "gauntlet-fault")
	if err != nil {
		return "", "", err
	}
	if holder, err = d.image(ctx, "gauntlet-fault", faultBin, faultPath, log); err != nil {
		return "", "", err
	}
	nodeBin, err := d.nodeBinary(ctx, sys)
	if err != nil {
		return "", "", err
	}
	if node, err = d.image(ctx, "gauntlet-node", nodeBin, nodePath, log); err != nil {
		return "", "", err
	}
	return holder, node, nil
}

// holderImage is images without the node, for probing the kernel.
func (d *Deployment) holderImage(ctx context.Context, log harness.Logger) (string, error) {
	faultBin, err := d.goBuild(ctx, faultPackage, "gauntlet-fault")
	if err != nil {
		return "", err
	}
	return d.image(ctx, "gauntlet-fault", faultBin, faultPath, log)
}

// nodeBinary returns a static Linux binary of the system's node.
func (d *Deployment) nodeBinary(ctx context.Context, sys harness.System) (string, error) {
	pkg := d.opts.Package
	if p, ok := sys.(Packager); ok && pkg == "" {
		pkg = p.GoPackage()
	}
	if pkg != "" {
		return d.goBuild(ctx, pkg, "node-"+nodes.Sanitize(sys.Name()))
	}
	b, ok := sys.(harness.Builder)
	if !ok {
		return "", fmt.Errorf("%s has no node binary to put in an image: the docker deployment needs a system with Build (a harness.Builder) returning a static Linux binary", sys.Name())
	}
	dir, err := d.cacheDir()
	if err != nil {
		return "", err
	}
	bin, err := b.Build(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", sys.Name(), err)
	}
	if err := static.Check(bin); err != nil { // a FROM-scratch image runs nothing else
		return "", fmt.Errorf("%s: %w (set docker.Options.Package to have it built with CGO_ENABLED=0)", sys.Name(), err)
	}
	return bin, nil
}

func (d *Deployment) cacheDir() (string, error) {
	dir := d.opts.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "gauntlet", "docker")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return dir, nil
}

// moduleDir finds the gauntlet checkout to build from.
func (d *Deployment) moduleDir(ctx context.Context) (string, error) {
	if d.opts.ModuleDir != "" {
		return d.opts.ModuleDir, nil
	}
	return source.ModuleDir()
}

// goBuild builds pkg as a static Linux binary for the daemon's architecture.
// -trimpath keeps the output identical for identical sources, so the image
// tag (a hash of the binary) is stable and images are reused.
func (d *Deployment) goBuild(ctx context.Context, pkg, name string) (string, error) {
	dir, err := d.cacheDir()
	if err != nil {
		return "", err
	}
	mod, err := d.moduleDir(ctx)
	if err != nil {
		return "", err
	}
	arch := d.arch(ctx)
	out := filepath.Join(dir, name+"-linux-"+arch)
	tmp := out + ".tmp-" + randomHex(4)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp, pkg)
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, bytes.TrimSpace(msg))
	}
	d.logger(nil).Debug("docker: go build", "package", pkg, "elapsed", time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s: %w", pkg, err)
	}
	return out, nil
}

// arch is the daemon's GOARCH (the harness may run elsewhere).
func (d *Deployment) arch(ctx context.Context) string {
	p, err := d.provider()
	if err != nil {
		return runtime.GOARCH
	}
	info, err := p.Client().Info(ctx, client.InfoOptions{})
	if err != nil {
		return runtime.GOARCH
	}
	switch info.Info.Architecture {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	}
	return runtime.GOARCH
}

// image makes sure repo:<hash of binary and Dockerfile> exists, building it
// FROM scratch if not. Builds are serialized per deployment so parallel
// runs of one process do not build the same image twice.
func (d *Deployment) image(ctx context.Context, repo, bin, path string, log harness.Logger) (string, error) {
	content, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", bin, err)
	}
	dockerfile := fmt.Sprintf("FROM scratch\nCOPY bin %s\nENTRYPOINT [%q]\n", path, path)
	h := sha256.New()
	h.Write([]byte(dockerfile))
	h.Write(content)
	tag := hex.EncodeToString(h.Sum(nil))[:16]
	ref := repo + ":" + tag

	d.buildMu.Lock()
	defer d.buildMu.Unlock()
	p, err := d.provider()
	if err != nil {
		return "", err
	}
	if _, err := p.Client().ImageInspect(ctx, ref); err == nil {
		log.Debug("docker: image cached", "image", ref)
		return ref, nil
	}
	archive, err := buildContext(dockerfile, content)
	if err != nil {
		return "", err
	}
	log.Info("docker: building image", "image", ref)
	req := &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: bytes.NewReader(archive),
		Repo:           repo,
		Tag:            tag,
		// Keep it: terminating a container would otherwise remove the image
		// the next node (or run) needs, and there is no registry to pull from.
		KeepImage: true,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Labels = map[string]string{LabelImage: repo}
			o.Remove = true
		},
	}}
	start := time.Now()
	if _, err := p.BuildImage(ctx, req); err != nil {
		return "", fmt.Errorf("build image %s: %w", ref, err)
	}
	log.Info("docker: image built", "image", ref, "elapsed", time.Since(start).Round(time.Millisecond))
	return ref, nil
}

// buildContext is a tar with the Dockerfile (it must carry that name) and
// the binary.
func buildContext(dockerfile string, bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"bin", 0o755, bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
		if _, err := io.Copy(tw, bytes.NewReader(f.data)); err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	return buf.Bytes(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
