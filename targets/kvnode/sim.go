package kvnode

import (
	"context"
	"io"
	"strings"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/kvnode"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
	"github.com/gauntlet-dev/gauntlet/systemundertest/transport"
)

var (
	_ harness.GoNode            = (*System)(nil)
	_ harness.MessageClassifier = (*System)(nil)
)

// RunNode runs a node in this process on e: the sim deployment's door. It
// is the kvnode binary's main with the same arguments.
func (s *System) RunNode(ctx context.Context, e env.Env, l harness.Launch, stdout, stderr io.Writer) int {
	return kvnode.Main(ctx, e, l.Args, stdout, stderr)
}

// MessageKinds names what a node's write to a peer begins: raft messages
// by type (raft mode), else the internal route ("quorum-put", "forward").
func (s *System) MessageKinds(segment []byte) []string {
	if k := transport.Kinds(segment); k != nil {
		return k
	}
	rest, ok := strings.CutPrefix(string(segment[:min(len(segment), 64)]), "POST /internal/")
	if !ok {
		return nil
	}
	route, _, _ := strings.Cut(rest, " ")
	switch route {
	case "kv/batch":
		return []string{"forward"}
	case "":
		return nil
	}
	return []string{strings.ReplaceAll(route, "/", "-")}
}

// simRecipe is how a run on the sim deployment reaches a raft bug that no
// process-level fault can (harness.Bug's Sim fields).
type simRecipe struct {
	nemesis  []string
	options  map[string]string
	workload string
}

// simRecipes are the simulation-reach bugs' runs on the sim deployment,
// measured in docs/simulation.md.
var simRecipes = map[string]simRecipe{
	// A voter crashed right after granting, asked again in the same term.
	raft.BugForgetVote: {nemesis: []string{"split-vote"}},
	// Elections on a slow network after the leader crashed: followers'
	// logs and commit indexes lag its own by a message delay.
	raft.BugReadBeforeTermCommit: {nemesis: []string{"split-vote"}},
	raft.BugCommitOldTerm:        {nemesis: []string{"split-vote"}},
	// An append overtaken by a later one needs batches in flight on
	// several connections, and a reorder aimed at appends.
	raft.BugTruncateOnAppend: {nemesis: []string{"split-vote", "reorder"}, options: map[string]string{OptPipeline: "4"}},
	// Snapshots every 20 entries, crashes right after durable writes;
	// an append lost from a node's state stays lost (a register's
	// overwritten value would hide it).
	raft.BugSnapshotAtCommit: {nemesis: []string{"crash-storm"}, options: map[string]string{OptSnapshotThreshold: "20"}, workload: "list-append"},
}
