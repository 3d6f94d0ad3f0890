// Package docker deploys a system's nodes in containers (through
// testcontainers-go) and makes network faults with the kernel, not a proxy.
//
// Each node is two containers. A holder runs gauntlet-fault serve, owns the
// node's network namespace on a private per-run network (static IP,
// CAP_NET_ADMIN, the node port published on 127.0.0.1 only); the node's own
// container joins it (network mode container:<holder>) with a data volume.
// Killing and restarting the node therefore keeps its IP, its host port and
// the fault rules in force. Faults are applied by gauntlet-fault in the
// holder, told over a control port (also on 127.0.0.1 only; ~10-30ms where
// a docker exec took 150ms-4s on a loaded machine): partitions and loss as
// nftables rules in a table of our own, latency as a netem qdisc where the
// kernel has sch_netem.
//
// Images are FROM scratch (no registry is needed), built from static
// binaries and tagged by content hash, so an unchanged tree reuses them. The
// Ryuk reaper is disabled; everything a run creates carries the run's label
// and is removed by Close, by Cleanup, or by the next run's CleanupStale.
//
// Pauses are SIGSTOP/SIGCONT sent through the Docker API, not docker pause
// (see Cluster.Pause). Clock faults go through the system's debug API:
// containers share the host's wall clock.
//
// The tests need a Docker daemon and skip without one, unless
// GAUNTLET_REQUIRE_DOCKER=1 (CI), which turns the skip into a failure.
package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// RequireEnv, set to 1, makes tests fail instead of skipping without Docker.
const RequireEnv = "GAUNTLET_REQUIRE_DOCKER"

// Options configures the docker deployment; the zero value works from a
// checkout of the gauntlet module.
type Options struct {
	Logger harness.Logger

	// Package is the Go package of the node binary, built with
	// CGO_ENABLED=0 for Linux from ModuleDir. Empty: the System's GoPackage()
	// if it has one (see Packager), else System.Build, whose result must
	// then be a static Linux binary.
	Package string
	// ModuleDir is the root of the gauntlet module (gauntlet-fault and
	// Package are built there); empty: found with `go env GOMOD`.
	ModuleDir string
	// CacheDir keeps built binaries; empty: <user cache>/gauntlet/docker.
	CacheDir string

	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL (10s).
	StopTimeout time.Duration
}

// Packager is implemented by systems whose node is a Go command of this
// module; the deployment then builds it static itself.
type Packager interface {
	GoPackage() string
}

// Label keys carried by every container, network and volume of a run.
const (
	LabelRun   = "dev.gauntlet.run"   // the run id
	LabelOwner = "dev.gauntlet.owner" // host/pid/process start, to tell dead runs
	LabelNode  = "dev.gauntlet.node"  // node id
	LabelRole  = "dev.gauntlet.role"  // holder | node
	LabelImage = "dev.gauntlet.image" // on images we built
)

// prepareEnv sets what testcontainers reads once per process, before its
// first call: no Ryuk (it would be pulled), and, when we run inside a
// container, the host of published ports (else it guesses the gateway).
func prepareEnv() {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set {
			os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "localhost")
		}
	}
}

// Available returns nil if a Docker daemon answers, else an error that says
// why not (tests skip on it unless GAUNTLET_REQUIRE_DOCKER=1).
func Available(ctx context.Context) error {
	prepareEnv()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cli, err := newClient(ctx)
	if err != nil {
		return fmt.Errorf("docker: no daemon answers: %w", err)
	}
	defer cli.Close()
	return nil
}

// ErrNoDocker is wrapped by Deploy's error when no daemon answers.
var ErrNoDocker = errors.New("docker daemon not available")
