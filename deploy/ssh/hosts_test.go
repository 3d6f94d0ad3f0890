package ssh

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func writeHosts(t *testing.T, yaml string) string {
	p := filepath.Join(t.TempDir(), "hosts.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
	return p
}

func TestLoadHostsDefaults(t *testing.T) {
	f, err := LoadHosts(writeHosts(t, `
user: ops
key: /k
known_hosts: /kh
sudo: true
hosts:
  - address: 10.0.0.1
  - address: 10.0.0.2
    port: 2222
    user: other
    peer_address: 192.168.0.2
    sudo: false
`))
	require.NoError(t, err)
	require.Len(t, f.Hosts, 2)
	a, b := f.Hosts[0], f.Hosts[1]
	assert.Equal(t, "ops@10.0.0.1:22", a.String())
	assert.True(t, a.sudo())
	assert.Equal(t, "/var/tmp/gauntlet", a.DataDir)
	assert.Equal(t, "10.0.0.1", a.ClientAddress)
	assert.Equal(t, "other@10.0.0.2:2222", b.String())
	assert.False(t, b.sudo())
	assert.Equal(t, "192.168.0.2", b.ClientAddress, "clients default to the peer address")
	assert.Equal(t, defaultNodePort, f.NodePort)
}

func TestLoadHostsRefusesBadFiles(t *testing.T) {
	for yaml, want := range map[string]string{
		"hosts: []\n": "no hosts",
		"key: /k\nhosts:\n  - address: a\n    colour: red\n":                                         "field colour not found",
		"key: /k\nhosts:\n  - port: 22\n":                                                            "host 1 has no address",
		"user: u\nagent: false\nhosts:\n  - address: 10.0.0.1\n":                                     "no way to log in",
		"key: /k\nuser: u\nhosts:\n  - address: 10.0.0.1\n  - address: 10.0.0.1\n    data_dir: /x\n": "listed twice",
		"key: /k\nuser: u\nhosts:\n  - address: 10.0.0.1\n    data_dir: tmp\n":                       "absolute path",
		"key: /k\nuser: u\nnode_port: 70000\nhosts:\n  - address: 10.0.0.1\n":                        "node_port",
	} {
		_, err := LoadHosts(writeHosts(t, yaml))
		require.Error(t, err, yaml)
		assert.Contains(t, err.Error(), want, yaml)
	}
	_, err := LoadHosts("")
	assert.ErrorContains(t, err, "--hosts")
	_, err = LoadHosts(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorContains(t, err, "missing.yaml")
}

func TestNftScript(t *testing.T) {
	heal := nftScript(nil, 0, nil)
	assert.Equal(t, "table inet gauntlet\ndelete table inet gauntlet\n", heal)
	s := nftScript([]net.IP{net.ParseIP("10.0.0.2"), net.ParseIP("fd00::3")}, 0.25, []net.IP{net.ParseIP("10.0.0.2")})
	assert.Contains(t, s, "ip saddr 10.0.0.2 drop")
	assert.Contains(t, s, "ip6 saddr fd00::3 drop")
	assert.Contains(t, s, "ip daddr 10.0.0.2 numgen random mod 10000 < 2500 drop")
	assert.Contains(t, s, "hook input")
	assert.Contains(t, s, "hook output")
	all := nftScript(nil, 1, []net.IP{net.ParseIP("10.0.0.2")})
	assert.Contains(t, all, "ip daddr 10.0.0.2 drop", "total loss: numgen cannot say < 10000")
}

func TestStartScriptQuotes(t *testing.T) {
	s := startScript("/d/n1", "/d/node", launchOf([]string{"A=b c"}, "--x", "it's"))
	assert.Contains(t, s, `setsid env 'A=b c' '/d/node' '--x' 'it'\''s' >>node.log`)
}

func launchOf(env []string, args ...string) harness.Launch {
	return harness.Launch{Env: env, Args: args}
}
