// Package kit holds tools for writing a system's harness.System beside the
// vocabulary: building a Go node binary (GoBuild) and rendering the peers a
// node is launched with (PeerList). The built-in targets use them, and so
// can a team's own system.
package kit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// PeerList renders harness.NodeSpec.Peers as "id=host:port,…" in id order,
// the form most node command lines take.
func PeerList(peers map[string]string) string {
	ids := make([]string, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, id := range ids {
		ids[i] = id + "=" + peers[id]
	}
	return strings.Join(ids, ",")
}

// GoBuild builds the Go package pkg into cacheDir as a static binary (so
// that the docker deployment can use it too) and returns its path: a Build
// for a system written in Go. It builds in the folder of the source file
// that calls it, so pkg resolves in the caller's module whatever the working
// directory (a program built with -trimpath builds in the working
// directory instead).
func GoBuild(ctx context.Context, cacheDir, pkg string) (string, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(cacheDir, path.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	if _, file, _, ok := runtime.Caller(1); ok && filepath.IsAbs(file) {
		cmd.Dir = filepath.Dir(file)
	}
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", pkg, err, bytes.TrimSpace(out))
	}
	return bin, nil
}
