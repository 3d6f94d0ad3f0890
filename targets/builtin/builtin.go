// Package builtin links in the systems Gauntlet ships — kvnode's raft and
// quorum modes, etcd, and exec:FILE for a system in any language — each of
// which registers itself with package registry, and the deployments
// (deploy/builtin). Import it for its effect.
package builtin

import (
	_ "github.com/gauntlet-dev/gauntlet/deploy/builtin"
	_ "github.com/gauntlet-dev/gauntlet/targets/consul"
	_ "github.com/gauntlet-dev/gauntlet/targets/etcd"
	_ "github.com/gauntlet-dev/gauntlet/targets/exec"
	_ "github.com/gauntlet-dev/gauntlet/targets/kvnode"
)
