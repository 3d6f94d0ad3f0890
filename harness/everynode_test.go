package harness

import (
	"context"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// everyNodeWorkload's generator asks for its final reads on every node.
type everyNodeWorkload struct{ kvWorkload }

func (w everyNodeWorkload) Generator(rng *rand.Rand) Generator {
	return everyNodeGen{w.kvWorkload.Generator(rng).(*kvGen)}
}

type everyNodeGen struct{ *kvGen }

func (everyNodeGen) FinalRead(key string) Op { return Op{F: FRead, Key: key, Value: Str("final-read")} }

func (everyNodeGen) FinalReadsEveryNode() bool { return true }

func TestFinalReadsOnEveryNode(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	p.Workload = everyNodeWorkload{kvWorkload{keys: 2, checkers: []Checker{&countChecker{}}}}
	_, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	hist, err := ReadHistory(runDir(t, tst.Out) + "/" + HistoryFile)
	require.NoError(t, err)
	final := map[Process]bool{}
	okOn := map[string]map[string]bool{} // key -> nodes whose final read was ok
	for _, op := range hist {
		if op.Type == Invoke && op.Value != nil && *op.Value == "final-read" {
			final[op.Process] = true
			continue
		}
		if op.Type == OK && final[op.Process] {
			if okOn[op.Key] == nil {
				okOn[op.Key] = map[string]bool{}
			}
			okOn[op.Key][op.Node] = true
		}
	}
	require.NotEmpty(t, okOn)
	for k, nodes := range okOn {
		assert.Len(t, nodes, tst.Nodes, "key %s was read after the heal on every node, not only the first to answer", k)
	}
}
