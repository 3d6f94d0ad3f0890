package kvnode

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

func TestRaftOptionsReachTheNode(t *testing.T) {
	spec := harness.NodeSpec{ID: "n1", Listen: "127.0.0.1:7001", Peers: map[string]string{"n1": "127.0.0.1:7001"}, DataDir: "/d"}
	sys, err := registry.System("raft", map[string]string{OptSnapshotThreshold: "20"}, nil)
	require.NoError(t, err)
	l, err := sys.Launch(context.Background(), spec)
	require.NoError(t, err)
	assert.Contains(t, l.Args, "--snapshot-threshold")
	assert.Equal(t, "20", l.Args[len(l.Args)-1])

	sys, err = registry.System("raft", nil, nil)
	require.NoError(t, err)
	l, err = sys.Launch(context.Background(), spec)
	require.NoError(t, err)
	assert.NotContains(t, l.Args, "--snapshot-threshold", "unset: kvnode's own default")

	sys, err = registry.System("raft", map[string]string{OptPipeline: "4"}, nil)
	require.NoError(t, err)
	l, err = sys.Launch(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, []string{"--pipeline", "4"}, l.Args[len(l.Args)-2:])
	_, err = registry.System("raft", map[string]string{OptPipeline: "65"}, nil)
	require.ErrorContains(t, err, "--raft-pipeline 65")

	_, err = registry.System("raft", map[string]string{OptSnapshotThreshold: "-1"}, nil)
	require.ErrorContains(t, err, "--raft-snapshot-threshold -1")
	_, err = registry.System("quorum", map[string]string{OptSnapshotThreshold: "20"}, nil)
	require.Error(t, err, "quorum mode has no snapshots")
}

func TestEverySimulationReachBugHasASimRecipe(t *testing.T) {
	for _, b := range (&System{mode: "raft"}).Bugs() {
		if b.Reach != harness.ReachSimulation {
			assert.Empty(t, b.SimNemesis, b.Name)
			continue
		}
		assert.NotEmpty(t, b.SimNemesis, "%s: how the sim deployment reaches it", b.Name)
	}
}
