package harness

import (
	"context"
	"io"

	"github.com/gauntlet-dev/gauntlet/env"
)

// GoNode is a system whose node is Go code written against env.Env (see
// docs/simulation.md): the sim deployment runs its nodes inside the
// harness's process on a simulated network, clock and disk. RunNode runs
// the node that l describes (Launch's Args, as the binary's main would parse
// them) on e until ctx is done, and returns its exit status.
type GoNode interface {
	RunNode(ctx context.Context, e env.Env, l Launch, stdout, stderr io.Writer) int
}

// MessageClassifier is a system whose node-to-node messages a simulated
// network can name: MessageKinds is given the bytes of one write a node
// made on a connection to a peer and names the kinds of message that begin
// there ("vote", "append"), nil if it cannot tell. Simulation faults aimed
// at a kind of message need it.
type MessageClassifier interface {
	MessageKinds(segment []byte) []string
}

// Enclosure is a deployment whose clusters live in a world of their own
// (the sim deployment: one process on a virtual clock). The runner carries
// out the run's phases from setup to teardown inside it, so that pacing, op
// timeouts and the fault schedule read the world's clock, not the
// machine's. Enclose calls run with a context carrying the world's network
// (env.WithNetwork), through which the system's clients dial, and returns
// once run and everything started in the world have returned; an error says
// the world could not end cleanly.
type Enclosure interface {
	Enclose(ctx context.Context, run func(ctx context.Context)) error
}
