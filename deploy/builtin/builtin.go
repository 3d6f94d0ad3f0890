// Package builtin links in the deployments Gauntlet ships — local
// processes, Docker containers, SSH hosts and the simulation — each of
// which registers itself with package registry. Import it for its effect
// (targets/builtin does, with the systems).
package builtin

import (
	_ "github.com/gauntlet-dev/gauntlet/deploy/docker"
	_ "github.com/gauntlet-dev/gauntlet/deploy/local"
	_ "github.com/gauntlet-dev/gauntlet/deploy/sim"
	_ "github.com/gauntlet-dev/gauntlet/deploy/ssh"
)
