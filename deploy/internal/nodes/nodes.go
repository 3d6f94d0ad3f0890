// Package nodes holds what the deployments do alike for a cluster's nodes:
// list their ids, make names from run ids and system names that are safe in
// paths, shell globs and Docker object names, and write a node's launch
// files.
package nodes

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gauntlet-dev/gauntlet/env"
)

// WriteLaunchFiles writes a harness.Launch's Files under dir (a node's data
// directory) on disk (env.OS() for a real machine), each synced, refusing
// paths that leave it.
func WriteLaunchFiles(disk env.Disk, dir string, files map[string][]byte) error {
	for name, b := range files {
		if !filepath.IsLocal(name) {
			return fmt.Errorf("launch file %q must be a relative path inside the data directory", name)
		}
		p := filepath.Join(dir, name)
		if err := disk.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := disk.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = f.Write(b)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// IDs lists the nodes' ids in the cluster's order, which is the order
// harness.Cluster.Nodes promises.
func IDs[N any](ns []N, id func(N) string) []string {
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = id(n)
	}
	return ids
}

// Sanitize keeps [a-zA-Z0-9_.-] and turns every other rune into '-': what
// Docker accepts in names, and nothing a path or a glob would read apart.
func Sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
