// Package nodes holds what the deployments do alike for a cluster's nodes:
// list their ids, and make names from run ids and system names that are
// safe in paths, shell globs and Docker object names.
package nodes

import "strings"

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
