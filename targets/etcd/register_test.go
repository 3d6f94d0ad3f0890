package etcd

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

func TestEtcdTimeoutOptions(t *testing.T) {
	sys, err := registry.System("etcd", map[string]string{OptElectionMS: "250", OptHeartbeatMS: "25"}, nil)
	require.NoError(t, err)
	l, err := sys.Launch(context.Background(), harness.NodeSpec{Binary: "/bin/etcd", ID: "n1", Listen: "127.0.0.1:1", DataDir: "/d", Peers: map[string]string{"n1": "127.0.0.1:2"}})
	args := strings.Join(l.Args, " ")
	assert.Contains(t, args, "--election-timeout 250")
	assert.Contains(t, args, "--heartbeat-interval 25")

	sys, err = registry.System("etcd", nil, nil)
	require.NoError(t, err)
	l, err = sys.Launch(context.Background(), harness.NodeSpec{Binary: "/bin/etcd", ID: "n1", Listen: "127.0.0.1:1", DataDir: "/d", Peers: map[string]string{"n1": "127.0.0.1:2"}})
	assert.NotContains(t, strings.Join(l.Args, " "), "--election-timeout", "no option: etcd's defaults")

	require.NoError(t, err)
	for _, bad := range []map[string]string{
		{OptElectionMS: "fast"},
		{OptHeartbeatMS: "-5"},
		{OptElectionMS: "300"},                         // < 5 × the default 100 ms heartbeat
		{OptElectionMS: "1000", OptHeartbeatMS: "300"}, // < 5 heartbeats
		{"etcd-verison": "v3.6.8"},                     // a typo is not silently ignored
	} {
		_, err := registry.Parts(harness.Test{System: "etcd", Options: bad}, registry.RunOptions{})
		var ce *harness.ConfigError
		assert.ErrorAs(t, err, &ce, "%v", bad)
	}

	// The options are flags of the command line that replays the run.
	tst := harness.Test{System: "etcd", Options: map[string]string{OptElectionMS: "250", OptHeartbeatMS: "25"}}.WithDefaults()
	assert.Contains(t, tst.CommandLine(), "--etcd-election-ms=250 --etcd-heartbeat-ms=25")
}
