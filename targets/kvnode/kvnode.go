// Package kvnode runs Gauntlet's own system under test, cmd/kvnode, as a
// harness.System in one of its two modes: "raft" (leader-based, linearizable
// by design) and "quorum" (leaderless; needs an anti-entropy pass before its
// replicas agree, which it offers as a harness.Converger).
package kvnode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/internal/source"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/systemundertest/quorum"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
	"github.com/gauntlet-dev/gauntlet/targets/kit"
	"github.com/gauntlet-dev/gauntlet/targets/wire"
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
	// snapshotThreshold is raft mode's --snapshot-threshold (0 = kvnode's
	// default), the option OptSnapshotThreshold.
	snapshotThreshold int
	// pipeline is raft mode's --pipeline (0 = kvnode's default, 1), the
	// option OptPipeline.
	pipeline int
}

// OptPipeline is raft mode's system option: raft message batches in flight
// per peer, each on a connection of its own. More than one lets a later
// batch overtake an earlier one (as etcd's four-connection pipeline does),
// which the truncate-on-append bug's runs need.
const OptPipeline = "raft-pipeline"

// OptSnapshotThreshold is raft mode's system option: entries applied
// between snapshots. A low one makes snapshots, and restarts from them,
// part of every run (the snapshot-at-commit bug's runs need it).
const OptSnapshotThreshold = "raft-snapshot-threshold"

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

// ReportsLeader: raft mode elects a leader; quorum mode has none.
func (s *System) ReportsLeader() bool { return s.mode == "raft" }

// ReportsElections: raft mode's status is one snapshot of the node's raft
// state (role and current term, taken together after every batch), so the
// runner can check one leader per term.
func (s *System) ReportsElections() bool { return s.mode == "raft" }

// GoPackage lets deployments that need a static binary (docker) build it.
func (s *System) GoPackage() string { return Package }

// Build returns a kvnode binary: $KVNODE_BINARY if set, else one built with
// `go build` from the gauntlet module that contains the working directory.
// The binary is kept under a hash of its sources (every non-test .go file
// of cmd/kvnode, systemundertest and env, go.mod, go.sum, the Go version and
// GOFLAGS): unchanged sources reuse it without running the go command (about
// a second off every run's setup), changed ones build anew, so a stale
// binary is never tested.
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
	sum, err := sourceHash(mod)
	if err != nil {
		return "", fmt.Errorf("kvnode: %w", err)
	}
	out := filepath.Join(cacheDir, "kvnode-"+sum)
	if fi, err := os.Stat(out); err == nil && fi.Mode()&0o111 != 0 {
		return out, nil
	}
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

// sourceHash is a short hash of what the kvnode binary is built from.
func sourceHash(mod string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", runtime.Version(), os.Getenv("GOFLAGS"))
	var files []string
	for _, dir := range []string{"cmd/kvnode", "systemundertest", "env"} {
		err := filepath.WalkDir(filepath.Join(mod, dir), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return "", err
		}
	}
	sort.Strings(files)
	for _, f := range append([]string{filepath.Join(mod, "go.mod"), filepath.Join(mod, "go.sum")}, files...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
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
func (s *System) Launch(ctx context.Context, n harness.NodeSpec) (harness.Launch, error) {
	args := []string{"--mode", s.mode, "--id", n.ID, "--listen", n.Listen,
		"--peers", kit.PeerList(n.Peers), "--data", n.DataDir}
	if n.Bug != "" {
		args = append(args, "--bug", n.Bug)
	}
	if s.snapshotThreshold > 0 {
		args = append(args, "--snapshot-threshold", fmt.Sprint(s.snapshotThreshold))
	}
	if s.pipeline > 0 {
		args = append(args, "--pipeline", fmt.Sprint(s.pipeline))
	}
	return harness.Launch{Binary: n.Binary, Args: args}, nil
}

// NewClient returns a client bound to node n.
func (s *System) NewClient(n harness.Node) (harness.Client, error) {
	return wire.NewClient(n.ID, n.Addr(), opTimeout), nil
}

// Status asks the node about itself.
func (s *System) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	return wire.Status(ctx, n.Addr(), opTimeout)
}

// Digest asks the node for a digest of its state, with per-key value hashes.
func (s *System) Digest(ctx context.Context, n harness.Node) (harness.Digest, error) {
	d, err := wire.Digest(ctx, n.Addr(), 10*time.Second)
	if err == nil && d.Values == nil && s.mode == "quorum" {
		// A quorum replica that holds no key still reports per key (its JSON
		// omits the empty map): nil would make the convergence checker fall
		// back to whole digests, which differ by design between replicas.
		d.Values = map[string]string{}
	}
	return d, err
}

// SetClock offsets the node's injectable clock (POST /debug/clock).
func (s *System) SetClock(ctx context.Context, n harness.Node, offset time.Duration) error {
	return wire.SetClock(ctx, n.Addr(), offset, opTimeout)
}

// Bugs is the mode's catalog.
func (s *System) Bugs() []harness.Bug {
	var out []harness.Bug
	switch s.mode {
	case "raft":
		for _, b := range raft.Bugs() {
			hb := harness.Bug{Name: b.Name, Description: b.Description, Workload: b.Workload, Nemesis: b.Nemesis, Reach: b.Reach}
			if r, ok := simRecipes[b.Name]; ok {
				hb.SimNemesis, hb.SimOptions, hb.SimWorkload = r.nemesis, r.options, r.workload
			}
			out = append(out, hb)
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

// ControlWorkload is the workload the correct quorum store is
// linearizable on (its cas is not): the detection benchmark's control runs.
func (s quorumSystem) ControlWorkload() string { return "kv-without-cas" }

// Converge runs quorum mode's anti-entropy on every node at once (POST
// /internal/quorum/repair): each node reads the keys it holds at all their
// replicas and writes the newest version back, after which every replica of
// every key holds the same value. keys is not needed: each node knows its own.
//
// A node's pass is retried until it succeeds or ctx ends: the pass needs
// every replica, and right after the heal a restarted node may still be
// opening its log (connection refused) although a read quorum already
// answers.
func (s quorumSystem) Converge(ctx context.Context, nodes []harness.Node, keys []string) error {
	errs := make([]error, len(nodes))
	done := make(chan struct{})
	for i, n := range nodes {
		addr := n.Addr()
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
	for range nodes {
		<-done
	}
	return errors.Join(errs...)
}

// The two modes register as systems of their own: --system raft, --system
// quorum.
func init() {
	for _, mode := range []string{"raft", "quorum"} {
		help := map[string]string{
			"raft":   "kvnode, Gauntlet's own store, in Raft mode (leader-based, linearizable by design)",
			"quorum": "kvnode, Gauntlet's own store, in leaderless quorum mode (linearizable reads/writes, cas is not)",
		}[mode]
		def := registry.SystemDef{Name: mode, Help: help,
			New: func(registry.Config) (harness.System, error) { return New(mode), nil }}
		if mode == "raft" {
			def.Options = []registry.Option{
				{Name: OptSnapshotThreshold, Kind: registry.Int,
					Help: "raft: entries applied between snapshots (0: kvnode's default, 8192); a low one makes snapshots and restarts from them part of every run"},
				{Name: OptPipeline, Kind: registry.Int,
					Help: "raft: message batches in flight per peer, each on its own connection (0: kvnode's default, 1); more lets a later batch overtake an earlier one"},
			}
			def.New = func(c registry.Config) (harness.System, error) {
				n := c.Values.Int(OptSnapshotThreshold)
				if n < 0 {
					return nil, fmt.Errorf("--%s %d: want 0 (the default) or a positive number of entries", OptSnapshotThreshold, n)
				}
				p := c.Values.Int(OptPipeline)
				if p < 0 || p > 64 {
					return nil, fmt.Errorf("--%s %d: want 0 (the default) or 1 to 64 batches in flight per peer", OptPipeline, p)
				}
				return &System{mode: mode, snapshotThreshold: n, pipeline: p}, nil
			}
		}
		registry.Register(def)
	}
}

// repair asks the node at addr for an anti-entropy pass.
func repair(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+quorum.RepairRoute, nil)
	if err != nil {
		return fmt.Errorf("repair %s: %w", addr, err)
	}
	// A client of its own per pass, dialing through the context's network
	// (a simulation's, on the sim deployment), closed when done.
	hc := &http.Client{Transport: &http.Transport{DialContext: env.ContextDialer(opTimeout)}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("repair %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var r quorum.RepairResult
		if json.Unmarshal(body, &r) == nil && len(r.Errors) > 0 {
			return fmt.Errorf("repair %s: %s: %d of %d keys failed, first: %s", addr, resp.Status, r.Failed, r.Keys, r.Errors[0])
		}
		return fmt.Errorf("repair %s: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
