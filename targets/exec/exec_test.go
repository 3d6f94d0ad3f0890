package exec

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func systemFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "store.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	return p
}

func TestLaunchFillsPlaceholders(t *testing.T) {
	p := systemFile(t, `protocol: 1
command: [node, "{dir}/s.js", --me, "{id}", --on, "{host}", "{port}", --peer-port, "{port:peer}", --peers, "{peers}", --data, "{data}", "{bug}"]
env: {WHO: "{id}@{listen}"}
ports: [peer]
status: true
leader: true
bugs:
  - {name: fast-ack, args: [--fast-ack], workload: kv, nemesis: [kill], description: acks early}
`)
	s, err := New("exec:"+p, p)
	require.NoError(t, err)
	assert.Equal(t, []string{"peer"}, s.Ports())
	assert.True(t, harness.ReportsLeader(s))
	assert.False(t, harness.ReportsElections(s), "elections: not declared")
	assert.False(t, harness.Has(s, harness.CapDigest), "digest: not declared")
	assert.False(t, harness.Has(s, harness.CapClock))
	n := harness.NodeSpec{ID: "n2", Listen: "127.0.0.1:7000", Ports: map[string]string{"client": "127.0.0.1:7000", "peer": "127.0.0.1:7001"},
		Peers: map[string]string{"n2": "127.0.0.1:7001", "n1": "127.0.0.1:9001"}, DataDir: "/d/n2"}
	l, err := s.Launch(context.Background(), n)
	require.NoError(t, err)
	assert.Equal(t, "node", l.Binary)
	assert.Equal(t, []string{filepath.Dir(p) + "/s.js", "--me", "n2", "--on", "127.0.0.1", "7000", "--peer-port", "127.0.0.1:7001",
		"--peers", "n1=127.0.0.1:9001,n2=127.0.0.1:7001", "--data", "/d/n2"}, l.Args, "an empty {bug} is left out")
	assert.Equal(t, []string{"WHO=n2@127.0.0.1:7000"}, l.Env)

	n.Bug = "fast-ack"
	l, err = s.Launch(context.Background(), n)
	require.NoError(t, err)
	assert.Equal(t, []string{"fast-ack", "--fast-ack"}, l.Args[len(l.Args)-2:])
	assert.Equal(t, "fast-ack", harness.BugsOf(s)[0].Name)
}

func TestLoadRefusesWhatCannotRun(t *testing.T) {
	for body, want := range map[string]string{
		"protocol: 1\ncommand: [x, \"{nope}\"]\n":         "unknown placeholder {nope}",
		"protocol: 1\ncommand: [x, \"{port:metrics}\"]\n": "unknown placeholder {port:metrics}",
		"protocol: 1\n":                                              "command: missing",
		"protocol: 2\ncommand: [x]\n":                                "speaks protocol 1",
		"protocol: 1\ncommand: [x]\nleader: true\n":                  "leader: true needs status: true",
		"protocol: 1\ncommand: [x]\nstatus: true\nelections: true\n": "elections: true needs leader: true",
		"protocol: 1\ncommand: [x]\nhealth: ready\n":                 "must be an HTTP path",
		"protocol: 1\ncommand: [x]\nports: [client]\n":               "not a port name",
		"protocol: 1\ncommand: [x]\ndigests: true\n":                 "digests",
		"protocol: 1\ncommand: [x]\nbugs: [{args: [-b]}]\n":          "has no name",
		"protocol: 1\ncommand: [x]\ndebug_port: monitor\n":           "not one of ports",
	} {
		_, err := Load(systemFile(t, body))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
	}
}

// With debug_port, status, digest and clock are asked at that port of the
// node, not at its client port.
func TestDebugPortTakesTheDebugCalls(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/debug/status":
			fmt.Fprint(w, `{"id":"n1","role":"leader","term":2,"leader":"n1"}`)
		case "/debug/digest":
			fmt.Fprint(w, `{"node":"n1","digest":"abc"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	p := systemFile(t, "protocol: 1\ncommand: [x]\nports: [monitor]\ndebug_port: monitor\nstatus: true\ndigest: true\n")
	s, err := New("exec:"+p, p)
	require.NoError(t, err)
	n := harness.Node{ID: "n1", Ports: map[string]string{harness.PortClient: "127.0.0.1:1", "monitor": strings.TrimPrefix(srv.URL, "http://")}}
	st, err := s.Status(context.Background(), n)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), st.Term)
	d, err := s.Digest(context.Background(), n)
	require.NoError(t, err)
	assert.Equal(t, "abc", d.Digest)
}
