package kvnode

import (
	"context"
	"io"
	"strings"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/kvnode"
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
