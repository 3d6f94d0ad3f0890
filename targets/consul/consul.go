// Package consul runs HashiCorp Consul's KV store as a Gauntlet target: it
// builds a pinned server version (or takes a given binary), launches server
// agents, and talks to them over Consul's plain HTTP API (/v1/kv, status,
// operator) with no Consul client library, so every request is sent once,
// to the agent it names, and its outcome is classified here (client.go).
package consul

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// System is Consul as a harness.System.
type System struct{ o Options }

// New returns the Consul system; o is assumed valid (see FromMap).
func New(o Options) *System {
	o.defaults()
	return &System{o: o}
}

var _ harness.System = (*System)(nil)
var _ harness.SharedPeers = (*System)(nil)

func (s *System) Name() string { return "consul" }

// SharedPeers: a Consul agent gossips its own advertised address, and its
// peers then dial that address directly (serf over UDP and TCP, Raft RPC
// over TCP), whatever address they joined through. A deployment that
// places proxies per link therefore cannot cut single links; answering
// true makes the local deployment refuse link faults instead of faking
// them (docker, with an address per node and nftables, can cut links).
func (s *System) SharedPeers() bool { return true }

// Build returns the Consul binary, building the version if needed.
func (s *System) Build(ctx context.Context, cacheDir string) (string, error) {
	if s.o.Binary != "" {
		fi, err := os.Stat(s.o.Binary)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("--%s %s is not an executable file", OptBinary, s.o.Binary)
		}
		return filepath.Abs(s.o.Binary)
	}
	return Build(ctx, s.o.Version, filepath.Join(cacheDir, "consul"), s.o.Logf)
}

// Ports: serf (gossip, TCP and UDP) arrives at the peer port; Raft RPC has
// a port of its own, which the deployment allocates like the others.
func (s *System) Ports() []string { return []string{harness.PortPeer, portServer} }

const portServer = "server"

// ReportsLeader: agents name the Raft leader in their status.
func (s *System) ReportsLeader() bool { return true }

// Launch gives the server agent its flags. HTTP is served at n.Listen, serf
// at the peer port, Raft RPC at the server port. Agents join through the
// addresses of n.Peers (on the local deployment, TCP proxies, which carry
// the join's push/pull; gossip then goes direct).
func (s *System) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	host, httpPort, err := net.SplitHostPort(n.Listen)
	if err != nil {
		return harness.Launch{}, fmt.Errorf("listen address %q: %w", n.Listen, err)
	}
	_, serfPort, err := net.SplitHostPort(n.Ports[harness.PortPeer])
	if err != nil {
		return harness.Launch{}, fmt.Errorf("no serf (peer) port: %w", err)
	}
	_, serverPort, err := net.SplitHostPort(n.Ports[portServer])
	if err != nil {
		return harness.Launch{}, fmt.Errorf("no server port: %w", err)
	}
	args := []string{"agent", "-server",
		"-bootstrap-expect", strconv.Itoa(len(n.Peers)),
		"-node", n.ID,
		"-data-dir", n.DataDir,
		"-bind", host, "-advertise", host, "-client", host,
		"-http-port", httpPort,
		"-serf-lan-port", serfPort,
		"-server-port", serverPort,
		"-serf-wan-port", "-1", "-dns-port", "-1", "-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-retry-interval", "1s",
		"-log-level", "info",
		"-hcl", fmt.Sprintf("performance { raft_multiplier = %d }", s.o.RaftMultiplier),
		// A killed server stays a voter, as an etcd member does; Consul's
		// default would remove it after a while and shrink the quorum.
		"-hcl", "autopilot { cleanup_dead_servers = false }",
		// No calls home to checkpoint-api.hashicorp.com.
		"-hcl", "disable_update_check = true",
	}
	ids := make([]string, 0, len(n.Peers))
	for id := range n.Peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if id != n.ID {
			args = append(args, "-retry-join", n.Peers[id])
		}
	}
	return harness.Launch{Binary: n.Binary, Args: args}, nil
}

// NewClient returns a client bound to agent n.
func (s *System) NewClient(n harness.Node) (harness.Client, error) {
	c := newClient(n.ID, n.Addr(), 0, s.o.ReadMode)
	c.lockDelay = s.o.LockDelay
	return c, nil
}

// Status asks the agent about itself (/v1/agent/self: name, Raft state,
// term, indexes) and whom it follows (/v1/status/leader gives the leader's
// Raft address, which /v1/operator/raft/configuration?stale maps to a node
// name — both answered from the agent's own state, without a leader).
func (s *System) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	a := newAPI(n.Addr(), s.o.OpTimeout)
	defer a.Close()
	var self struct {
		Config struct{ NodeName string }
		Stats  struct {
			Raft map[string]string `json:"raft"`
		}
	}
	if err := a.getJSON(ctx, "/v1/agent/self", &self); err != nil {
		return harness.NodeStatus{}, err
	}
	var leaderAddr string
	if err := a.getJSON(ctx, "/v1/status/leader", &leaderAddr); err != nil {
		return harness.NodeStatus{}, err
	}
	var conf struct {
		Servers []struct{ Node, Address string }
	}
	if err := a.getJSON(ctx, "/v1/operator/raft/configuration?stale", &conf); err != nil {
		return harness.NodeStatus{}, err
	}
	st := harness.NodeStatus{ID: self.Config.NodeName, Role: roles[self.Stats.Raft["state"]]}
	if st.Role == "" {
		st.Role = "candidate" // Shutdown or unknown: not serving as leader or follower
	}
	for _, srv := range conf.Servers {
		if leaderAddr != "" && srv.Address == leaderAddr {
			st.Leader = srv.Node
		}
	}
	st.Term, _ = strconv.ParseUint(self.Stats.Raft["term"], 10, 64)
	st.Commit, _ = strconv.ParseUint(self.Stats.Raft["commit_index"], 10, 64)
	st.Applied, _ = strconv.ParseUint(self.Stats.Raft["applied_index"], 10, 64)
	return st, nil
}

var roles = map[string]string{"Leader": "leader", "Follower": "follower", "Candidate": "candidate"}

// Digest hashes every key/value the agent holds locally (a recursive KV
// read with ?stale, which the agent answers from its own state) and reports
// the KV table's index (X-Consul-Index) as Applied.
func (s *System) Digest(ctx context.Context, n harness.Node) (harness.Digest, error) {
	a := newAPI(n.Addr(), 10*time.Second)
	defer a.Close()
	var entries []kvEntry
	index, err := a.getKV(ctx, "/v1/kv/?recurse&stale", &entries)
	if err != nil {
		return harness.Digest{}, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	h := sha256.New()
	d := harness.Digest{Values: map[string]string{}, Keys: len(entries), Applied: index}
	for _, e := range entries {
		v, _ := base64.StdEncoding.DecodeString(e.Value)
		fmt.Fprintf(h, "%q=%q\n", e.Key, v)
		sum := sha256.Sum256(v)
		d.Values[e.Key] = hex.EncodeToString(sum[:8])
	}
	d.Digest = hex.EncodeToString(h.Sum(nil))[:16]
	return d, nil
}

// Consul is no ClockSetter: an unmodified binary reads the host's clock
// (FACTS: libfaketime does not reach Go), so clock faults are refused
// before the run. It has no bug catalog: known-bad versions are chosen
// with --consul-version.

func init() {
	var opts []registry.Option
	for _, f := range Flags {
		k := registry.String
		if f.Kind == KindInt {
			k = registry.Int
		}
		opts = append(opts, registry.Option{Name: f.Name, Kind: k, Default: f.Default, Help: f.Help})
	}
	registry.Register(registry.SystemDef{
		Name: "consul", Options: opts,
		Help: "Consul KV, built from the Go module proxy at --consul-version, over plain HTTP; --consul-read-mode consistent|default|stale",
		New: func(c registry.Config) (harness.System, error) {
			m := map[string]string{}
			for _, f := range Flags {
				if c.Set(f.Name) {
					m[f.Name] = c.String(f.Name)
				}
			}
			o, err := FromMap(m)
			if err != nil {
				return nil, err
			}
			if c.Log != nil {
				o.Logf = func(f string, args ...any) { c.Log.Info(fmt.Sprintf(f, args...)) }
			}
			return New(o), nil
		},
	})
}
