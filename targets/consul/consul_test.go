package consul

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestFromMap(t *testing.T) {
	o, err := FromMap(map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, Options{Version: DefaultVersion, ReadMode: ReadConsistent, RaftMultiplier: 1, LockDelay: DefaultLockDelay, OpTimeout: o.OpTimeout}, o)

	o, err = FromMap(map[string]string{OptReadMode: "stale", OptRaftMultiplier: "5", "etcd-version": "v3.6.10"})
	require.NoError(t, err)
	assert.Equal(t, ReadStale, o.ReadMode)
	assert.Equal(t, 5, o.RaftMultiplier)

	for opts, want := range map[string]string{
		OptReadMode + "=linearizable": "want one of consistent, default, stale",
		OptRaftMultiplier + "=0":      "from 1 to 10",
		OptVersion + "=1.15.4":        "not of the form v1.X.Y",
		"consul-read=stale":           `unknown consul option "consul-read"`,
		OptLockDelay + "=2m":          "from 0s to 60s",
	} {
		k, v, _ := strings.Cut(opts, "=")
		_, err := FromMap(map[string]string{k: v})
		require.Error(t, err, opts)
		assert.Contains(t, err.Error(), want)
	}
}

func TestBuildRefusesUnknownVersions(t *testing.T) {
	_, err := Build(context.Background(), "v1.16.0", t.TempDir(), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no known-good dependency pins")
	_, err = Build(context.Background(), "latest", t.TempDir(), nil)
	assert.Contains(t, err.Error(), "not of the form")
}

func flag(args []string, name string) []string {
	var vs []string
	for i, a := range args {
		if a == name && i+1 < len(args) {
			vs = append(vs, args[i+1])
		}
	}
	return vs
}

func TestLaunch(t *testing.T) {
	s := New(Options{RaftMultiplier: 2})
	assert.Equal(t, []string{harness.PortPeer, "server"}, s.Ports(), "serf and Raft RPC ports are declared, the deployment allocates them")
	peers := map[string]string{"n1": "10.0.0.2:7001", "n2": "10.0.0.3:7001", "n3": "10.0.0.4:7001"}
	l, err := s.Launch(context.Background(), harness.NodeSpec{ID: "n2", Binary: "/consul", Listen: "10.0.0.3:7000", PeerListen: "10.0.0.3:7001",
		Ports: map[string]string{"client": "10.0.0.3:7000", "peer": "10.0.0.3:7001", "server": "10.0.0.3:7002"}, Peers: peers, DataDir: "/data"})
	require.NoError(t, err)
	assert.Equal(t, "/consul", l.Binary)
	assert.Equal(t, []string{"3"}, flag(l.Args, "-bootstrap-expect"))
	assert.Equal(t, []string{"10.0.0.3"}, flag(l.Args, "-bind"))
	assert.Equal(t, []string{"7000"}, flag(l.Args, "-http-port"))
	assert.Equal(t, []string{"7001"}, flag(l.Args, "-serf-lan-port"))
	assert.Equal(t, []string{"7002"}, flag(l.Args, "-server-port"))
	assert.Equal(t, []string{"10.0.0.2:7001", "10.0.0.4:7001"}, flag(l.Args, "-retry-join"), "every peer but itself")
	assert.Contains(t, flag(l.Args, "-hcl"), "performance { raft_multiplier = 2 }")
	assert.Contains(t, flag(l.Args, "-hcl"), "disable_update_check = true")

	_, err = s.Launch(context.Background(), harness.NodeSpec{ID: "n1", Listen: "127.0.0.1:20000", Peers: peers, DataDir: "/d"})
	assert.Error(t, err, "a deployment that gave no serf port is an error, not a guess")
}

// TestStatusAndDigest against a stub agent that answers like Consul 1.15.
func TestStatusAndDigest(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/agent/self":
			fmt.Fprint(w, `{"Config":{"NodeName":"n2"},"Stats":{"raft":{"state":"Follower","term":"4","commit_index":"90","applied_index":"88"}}}`)
		case "/v1/status/leader":
			fmt.Fprint(w, `"127.0.0.1:31003"`)
		case "/v1/operator/raft/configuration":
			assert.Equal(t, "stale", r.URL.RawQuery)
			fmt.Fprint(w, `{"Servers":[{"Node":"n1","Address":"127.0.0.1:31001"},{"Node":"n3","Address":"127.0.0.1:31003"}]}`)
		case "/v1/kv/":
			assert.Equal(t, "recurse&stale", r.URL.RawQuery)
			w.Header().Set("X-Consul-Index", "77")
			fmt.Fprint(w, `[{"Key":"k2","Value":"Mg=="},{"Key":"k1","Value":"MQ=="}]`)
		}
	}))
	s := New(Options{})
	st, err := s.Status(context.Background(), harness.NodeAt("n1", addr))
	require.NoError(t, err)
	assert.Equal(t, harness.NodeStatus{ID: "n2", Role: "follower", Term: 4, Leader: "n3", Commit: 90, Applied: 88}, st)
	d, err := s.Digest(context.Background(), harness.NodeAt("n1", addr))
	require.NoError(t, err)
	assert.Equal(t, 2, d.Keys)
	assert.Equal(t, uint64(77), d.Applied)
	assert.Len(t, d.Values, 2)
	assert.NotEmpty(t, d.Digest)
}
