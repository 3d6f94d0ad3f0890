// Package gobuild builds a server binary from a small wrapper module kept in
// a cache directory. Servers such as etcd and Consul carry replace directives
// that stop `go install`, but a module importing their packages resolves;
// writing that module outside Gauntlet's own keeps their dependency trees out
// of Gauntlet's go.mod.
package gobuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Wrapper is one server version's wrapper module.
type Wrapper struct {
	Name     string   // binary name and cache-directory prefix, e.g. "etcd"
	Version  string   // e.g. "v3.6.10"
	GoMod    string   // the whole go.mod
	Main     []byte   // main.go
	Versions []string // versions checked to build here, named when resolving fails
	Takes    string   // how long a cold build takes, for the log line
}

// Build returns the path of cacheDir/<Name>-<Version>/<Name>, building it
// statically (CGO off, so a scratch image can hold it) on first use; later
// calls reuse the binary. The build writes to a temporary name and renames,
// so a failed or cancelled build never leaves a binary that looks finished.
func Build(ctx context.Context, w Wrapper, cacheDir string, logf func(string, ...any)) (string, error) {
	dir := filepath.Join(cacheDir, w.Name+"-"+w.Version)
	bin := filepath.Join(dir, w.Name)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("%s build dir: %w", w.Name, err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte(w.GoMod), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), w.Main, 0o644); err != nil {
		return "", err
	}
	if logf != nil {
		logf("building %s %s into %s (first use; %s)", w.Name, w.Version, dir, w.Takes)
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
		return "", fmt.Errorf("%s %s cannot be resolved from the module proxy (checked here: %s): %w", w.Name, w.Version, strings.Join(w.Versions, ", "), err)
	}
	tmp := bin + ".tmp"
	if err := run("build", "-trimpath", "-o", tmp, "."); err != nil {
		return "", fmt.Errorf("building %s %s: %w", w.Name, w.Version, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// tail keeps the end of the go command's output, where its error is.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
