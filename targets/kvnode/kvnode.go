// Package kvnode runs Gauntlet's own system under test, cmd/kvnode, as a
// harness.System in one of its two modes: "raft" (leader-based, linearizable
// by design) and "quorum" (leaderless; needs an anti-entropy pass before its
// replicas agree, which it offers as a harness.Converger).
package kvnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/internal/source"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
	"github.com/gauntlet-dev/gauntlet/systemundertest/quorum"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

const (
	// Package is the Go package of the node binary.
	Package = source.ModulePath + "/cmd/kvnode"
	// BinaryEnv names an existing kvnode binary to use instead of building one.
	BinaryEnv = "KVNODE_BINARY"
	// opTimeout bounds one client request; a worker's op never outlives it.
	opTimeout = 2 * time.Second
)

// System is kvnode in one mode.
type System struct {
	mode string
}

// repairRetry is the pause between failed anti-entropy passes of a node.
const repairRetry = 200 * time.Millisecond

// quorumSystem adds the anti-entropy pass quorum mode needs.
type quorumSystem struct{ *System }

var (
	_ harness.System         = (*System)(nil)
	_ harness.Converger      = quorumSystem{}
	_ harness.LeaderReporter = (*System)(nil)
)

// New returns kvnode in mode "raft" or "quorum". Another mode is reported by
// Build (the registry only offers the two).
func New(mode string) harness.System {
	s := &System{mode: mode}
	if mode == "quorum" {
		return quorumSystem{s}
	}
	return s
}

// Name is the mode: "raft" or "quorum".
func (s *System) Name() string { return s.mode }

// GoPackage lets deployments that need a static binary (docker) build it.
func (s *System) GoPackage() string { return Package }

// Build returns a kvnode binary: $KVNODE_BINARY if set, else one built with
// `go build` from the gauntlet module that contains the working directory.
// Go's build cache makes a rebuild of unchanged sources take about a second,
// so it always builds: a stale binary would test old code.
func (s *System) Build(ctx context.Context, cacheDir string) (string, error) {
	if s.mode != "raft" && s.mode != "quorum" {
		return "", fmt.Errorf("kvnode: unknown mode %q (want raft or quorum)", s.mode)
	}
	if bin := os.Getenv(BinaryEnv); bin != "" {
		fi, err := os.Stat(bin)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("kvnode: %s=%s is not an executable file", BinaryEnv, bin)
		}
		return filepath.Abs(bin)
	}
	mod, err := moduleRoot()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("kvnode: cache dir: %w", err)
	}
	out := filepath.Join(cacheDir, "kvnode")
	// Several runs may build at once: each builds to its own file and
	// renames, so none ever executes a half-written binary.
	tmp, err := os.CreateTemp(cacheDir, "kvnode-*.tmp")
	if err != nil {
		return "", fmt.Errorf("kvnode: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp.Name(), Package)
	cmd.Dir = mod
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("kvnode: go build %s in %s: %w: %s", Package, mod, err, bytes.TrimSpace(msg))
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", fmt.Errorf("kvnode: %w", err)
	}
	return out, nil
}

// moduleRoot finds the checkout to build kvnode from.
func moduleRoot() (string, error) {
	dir, err := source.ModuleDir()
	if err != nil {
		return "", fmt.Errorf("kvnode: %w (or set %s to a kvnode binary)", err, BinaryEnv)
	}
	return dir, nil
}

// Launch gives the node its flags; peers are listed in id order so the
// command line is the same on every run.
func (s *System) Launch(binary string, n harness.NodeSpec) harness.Launch {
	ids := make([]string, 0, len(n.Peers))
	for id := range n.Peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	peers := make([]string, len(ids))
	for i, id := range ids {
		peers[i] = id + "=" + n.Peers[id]
	}
	args := []string{"--mode", s.mode, "--id", n.ID, "--listen", n.Listen,
		"--peers", strings.Join(peers, ","), "--data", n.DataDir}
	if n.Bug != "" {
		args = append(args, "--bug", n.Bug)
	}
	return harness.Launch{Binary: binary, Args: args}
}

// NewClient returns a client bound to the node at addr.
func (s *System) NewClient(node, addr string) (harness.Client, error) {
	return &Client{node: node, c: client.New(addr, opTimeout)}, nil
}

// Status asks the node about itself.
func (s *System) Status(ctx context.Context, addr string) (harness.NodeStatus, error) {
	c := client.New(addr, opTimeout)
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return harness.NodeStatus{}, fmt.Errorf("status of %s: %w", addr, err)
	}
	return harness.NodeStatus{ID: st.ID, Role: st.Role, Term: st.Term, Leader: st.Leader,
		Commit: st.Commit, Applied: st.Applied}, nil
}

// Digest asks the node for a digest of its state, with per-key value hashes.
func (s *System) Digest(ctx context.Context, addr string) (harness.Digest, error) {
	c := client.New(addr, 10*time.Second)
	defer c.Close()
	d, err := c.Digest(ctx)
	if err != nil {
		return harness.Digest{}, fmt.Errorf("digest of %s: %w", addr, err)
	}
	vals := d.Values
	if vals == nil && s.mode == "quorum" {
		// A quorum replica that holds no key still reports per key (its JSON
		// omits the empty map): nil would make the convergence checker fall
		// back to whole digests, which differ by design between replicas.
		vals = map[string]string{}
	}
	return harness.Digest{Node: d.ID, Digest: d.Digest, Applied: d.Applied, Keys: d.Keys, Values: vals}, nil
}

// SetClock offsets the node's injectable clock (POST /debug/clock).
func (s *System) SetClock(ctx context.Context, addr string, offset time.Duration) error {
	c := client.New(addr, opTimeout)
	defer c.Close()
	if err := c.SetClock(ctx, offset); err != nil {
		return fmt.Errorf("set clock of %s to %s: %w", addr, offset, err)
	}
	return nil
}

// ReportsLeader: raft mode elects a leader and names it in Status; quorum
// mode is leaderless (its quorumSystem inherits this and says false).
func (s *System) ReportsLeader() bool { return s.mode == "raft" }

// Bugs is the mode's catalog.
func (s *System) Bugs() []harness.Bug {
	var out []harness.Bug
	switch s.mode {
	case "raft":
		for _, b := range raft.Bugs() {
			out = append(out, harness.Bug{Name: b.Name, Description: b.Description, Workload: b.Workload, Nemesis: b.Nemesis, Reach: b.Reach})
		}
	case "quorum":
		for _, b := range quorum.Bugs() {
			out = append(out, harness.Bug{Name: b.Name, Description: b.Description, Workload: b.Workload, Nemesis: b.Nemesis})
		}
	}
	return out
}

// Simulate runs raft mode's deterministic simulation (raft.Simulate) for one
// seed; quorum mode has none.
func (s *System) Simulate(bug string, seed int64) error {
	if s.mode != "raft" {
		return fmt.Errorf("kvnode %s mode has no deterministic simulation", s.mode)
	}
	return raft.Simulate(seed, bug)
}

// Converge runs quorum mode's anti-entropy on every node at once (POST
// /internal/quorum/repair): each node reads the keys it holds at all their
// replicas and writes the newest version back, after which every replica of
// every key holds the same value. keys is not needed: each node knows its own.
//
// A node's pass is retried until it succeeds or ctx ends: the pass needs
// every replica, and right after the heal a restarted node may still be
// opening its log (connection refused) although a read quorum already
// answers.
func (s quorumSystem) Converge(ctx context.Context, addrs []string, keys []string) error {
	errs := make([]error, len(addrs))
	done := make(chan struct{})
	for i, addr := range addrs {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				errs[i] = repair(ctx, addr)
				if errs[i] == nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(repairRetry):
				}
			}
		}()
	}
	for range addrs {
		<-done
	}
	return errors.Join(errs...)
}
