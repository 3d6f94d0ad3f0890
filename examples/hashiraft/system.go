package hashiraft

import (
	"context"
	"io"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/targets/kit"
	"github.com/gauntlet-dev/gauntlet/targets/wire"
)

// BugStaleReads is the catalog's one entry.
const BugStaleReads = "stale-reads"

// System is hashiraft as a harness.System; as a harness.GoNode it also runs
// on the sim deployment.
type System struct{}

var (
	_ harness.System         = System{}
	_ harness.GoNode         = System{}
	_ harness.LeaderReporter = System{}
	_ harness.BugCatalog     = System{}
	_ harness.PortNamer      = System{}
)

var _ = registry.Register(registry.SystemDef{Name: "hashiraft",
	Help: "a key-value store on hashicorp/raft, written against package env (examples/hashiraft)",
	New:  func(registry.Config) (harness.System, error) { return System{}, nil }})

func (System) Name() string { return "hashiraft" }

// Build compiles the node for the process deployments.
func (System) Build(ctx context.Context, cache string) (string, error) {
	return kit.GoBuild(ctx, cache, "github.com/gauntlet-dev/hashiraft/cmd/hashiraftnode")
}

// Ports: raft has a port of its own.
func (System) Ports() []string { return []string{harness.PortPeer} }

func (System) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	args := []string{"--id", n.ID, "--listen", n.Listen, "--raft-listen", n.PeerListen,
		"--peers", kit.PeerList(n.Peers), "--data", n.DataDir}
	if n.Bug == BugStaleReads {
		args = append(args, "--stale-reads")
	}
	return harness.Launch{Binary: n.Binary, Args: args}, nil
}

// RunNode is the binary's main in this process, on e.
func (System) RunNode(ctx context.Context, e env.Env, l harness.Launch, stdout, stderr io.Writer) int {
	return Main(ctx, e, l.Args, stdout, stderr)
}

const opTimeout = 2 * time.Second

func (System) NewClient(n harness.Node) (harness.Client, error) {
	return wire.NewClient(n.ID, n.Addr(), opTimeout), nil
}

func (System) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	return wire.Status(ctx, n.Addr(), opTimeout)
}

func (System) ReportsLeader() bool { return true }

func (System) Bugs() []harness.Bug {
	return []harness.Bug{{Name: BugStaleReads,
		Description: "reads are served from the local state machine of whichever node got them, without a barrier " +
			"or a leader check (a classic mistake with hashicorp/raft): a partitioned or deposed leader, or a lagging follower, answers stale values",
		Workload: "kv", Nemesis: []string{"partition"}}}
}
