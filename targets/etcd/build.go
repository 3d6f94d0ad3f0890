package etcd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// wrapperMain is the whole etcd build module besides its go.mod: the server
// module's replace directives stop `go install`, but a module importing it
// resolves. It is written into the cache, never into our module, so etcd's
// dependency tree stays out of Gauntlet's go.mod.
var wrapperMain = []byte(`package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`)

// Versions checked to build and run on these machines.
var Versions = []string{"v3.6.8", "v3.6.9", "v3.6.10", "v3.5.2", "v3.5.3"}

var versionRe = regexp.MustCompile(`^v3\.\d+\.\d+$`)

// Build returns the path of an etcd server binary of the given version,
// building it into cacheDir/etcd-<version>/etcd on first use. Building takes
// about a minute on two cores; later runs reuse the binary.
func Build(ctx context.Context, version, cacheDir string, logf func(string, ...any)) (string, error) {
	if !versionRe.MatchString(version) {
		return "", fmt.Errorf("etcd version %q is not of the form v3.X.Y (checked here: %s)", version, strings.Join(Versions, ", "))
	}
	dir := filepath.Join(cacheDir, "etcd-"+version)
	bin := filepath.Join(dir, "etcd")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("etcd build dir: %w", err)
	}
	gomod := fmt.Sprintf("module gauntlet.local/etcdserver\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n", version)
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), wrapperMain, 0o644); err != nil {
		return "", err
	}
	if logf != nil {
		logf("building etcd %s into %s (first use; about a minute)", version, dir)
	}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 1500))
		}
		return nil
	}
	if err := run("mod", "tidy"); err != nil {
		return "", fmt.Errorf("etcd %s cannot be resolved from the module proxy (checked here: %s): %w", version, strings.Join(Versions, ", "), err)
	}
	tmp := bin + ".tmp"
	if err := run("build", "-trimpath", "-o", tmp, "."); err != nil {
		return "", fmt.Errorf("building etcd %s: %w", version, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
