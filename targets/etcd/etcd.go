// Package etcd runs etcd as a Gauntlet target: it builds the requested
// server version (or takes a given binary), launches members, and talks to
// them through etcd's JSON gateway (/v3/kv/range, put, txn) over plain HTTP.
//
// Why the gateway and not go.etcd.io/etcd/client/v3: the gateway has no
// client-side retries, balancer or failover, so every request the harness
// makes is sent exactly once to the member it names, and its outcome is
// classified by us (see Client.Invoke). clientv3 retries some requests by
// itself, which can turn one write into two — Jepsen's etcd reports show the
// anomalies that makes. It also keeps etcd's dependency tree out of our module.
package etcd

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// Options configure the etcd system.
type Options struct {
	Version string // e.g. v3.6.10; built on first use
	Binary  string // an existing etcd binary (overrides Version)
	// SerializableReads makes reads serializable (served locally, possibly
	// stale — documented etcd behaviour), instead of linearizable.
	SerializableReads bool
	// PadKeys > 0 writes that many padding keys in the Setup step and makes
	// every write and cas a txn that also compares them (always true):
	// padding.go, for etcd #13766.
	PadKeys int
	// LockTTL is the lease of the lock workload's sessions, in seconds
	// (0: DefaultLockTTL; etcd raises it to 1.5 election timeouts at least).
	LockTTL int
	// Election timeout and heartbeat in ms (0 = etcd's defaults 1000/100).
	ElectionMS, HeartbeatMS int
	// OpTimeout bounds Status calls (default 2s). Client ops are bounded only
	// by the harness (--op-timeout), so a long op timeout reaches etcd: a read
	// held by a paused leader can then complete after the pause.
	OpTimeout time.Duration
	Logf      func(string, ...any)
}

// DefaultVersion is the version used when none is asked for.
const DefaultVersion = "v3.6.10"

// System is etcd as a harness.System.
type System struct {
	o       Options
	members members // client addresses of all members, for Digest

	namesMu sync.Mutex
	names   map[uint64]string // raft ID -> member name: IDs never change, so Status asks once
}

// New returns the etcd system.
func New(o Options) *System {
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 2 * time.Second
	}
	return &System{o: o}
}

var _ harness.System = (*System)(nil)
var _ harness.SharedPeers = (*System)(nil)
var _ harness.Converger = (*System)(nil)
var _ harness.Setupper = (*System)(nil)

func (s *System) Name() string { return "etcd" }

// Ports: etcd members listen for peers apart from clients.
func (s *System) Ports() []string { return []string{harness.PortPeer} }

// ReportsLeader: etcd members name their leader in their status.
func (s *System) ReportsLeader() bool { return true }

// ReportsElections: Status reads raft.status, the member's role and current
// term in one snapshot, so the runner can check one leader per term.
func (s *System) ReportsElections() bool { return true }

// SharedPeers: etcd members must agree on every member's peer URL.
func (s *System) SharedPeers() bool { return true }

// Build returns the etcd binary, building the version if needed.
func (s *System) Build(ctx context.Context, cacheDir string) (string, error) {
	if s.o.Binary != "" {
		fi, err := os.Stat(s.o.Binary)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("--etcd-binary %s is not an executable file", s.o.Binary)
		}
		return filepath.Abs(s.o.Binary)
	}
	return Build(ctx, s.o.Version, filepath.Join(cacheDir, "etcd"), s.o.Logf)
}

// Launch gives the member its flags. Clients reach it at n.Listen; peers at
// n.Peers[id] (the same map for every member), which the deployment forwards
// to n.PeerListen.
func (s *System) Launch(ctx context.Context, n harness.NodeSpec) (harness.Launch, error) {
	ids := make([]string, 0, len(n.Peers))
	for id := range n.Peers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var cluster []string
	for _, id := range ids {
		cluster = append(cluster, id+"=http://"+n.Peers[id])
	}
	peerListen := n.PeerListen
	if peerListen == "" {
		peerListen = n.Peers[n.ID]
	}
	args := []string{
		"--name", n.ID,
		"--data-dir", n.DataDir,
		"--listen-client-urls", "http://" + n.Listen,
		"--advertise-client-urls", "http://" + n.Listen,
		"--listen-peer-urls", "http://" + peerListen,
		"--initial-advertise-peer-urls", "http://" + n.Peers[n.ID],
		"--initial-cluster", strings.Join(cluster, ","),
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "gauntlet",
		"--logger", "zap", "--log-outputs", "stderr",
	}
	if s.o.ElectionMS > 0 {
		args = append(args, "--election-timeout", fmt.Sprint(s.o.ElectionMS))
	}
	if s.o.HeartbeatMS > 0 {
		args = append(args, "--heartbeat-interval", fmt.Sprint(s.o.HeartbeatMS))
	}
	return harness.Launch{Binary: n.Binary, Args: args}, nil
}

// Setup writes the padding keys (Options.PadKeys) through the first
// member, once the cluster is healthy and before any client exists; without
// padding there is nothing to set up.
func (s *System) Setup(ctx context.Context, env harness.SetupEnv) error {
	if s.o.PadKeys <= 0 {
		return nil
	}
	if len(env.Nodes) == 0 {
		return errors.New("etcd: no member to write the padding keys through")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return writePadding(ctx, env.Nodes[0].Addr(), s.o.PadKeys)
}

// NewClient returns a client bound to member n; with PadKeys its writes and
// cas also compare the padding keys Setup wrote.
func (s *System) NewClient(n harness.Node) (harness.Client, error) {
	c := newClient(n.ID, n.Addr(), 0, s.o.SerializableReads)
	c.pad = s.o.PadKeys > 0
	c.lockTTL = int64(s.o.LockTTL)
	return c, nil
}

// Status asks the member about itself. Role, term, leader and indexes come
// from raft.status at /debug/vars: one snapshot of the member's raft state,
// taken by its raft goroutine. (The maintenance status reports as its term
// the term of the last entry applied, and its leader separately: a leader
// elected a moment ago still shows the old term there, which would look
// like two leaders of one term.) The member list maps raft IDs to names; it
// is asked only for an ID not seen before.
func (s *System) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	c := newGateway(n.Addr(), s.o.OpTimeout)
	defer c.Close()
	var vars struct {
		Raft *struct {
			ID        string `json:"id"`
			Term      uint64 `json:"term"`
			Lead      string `json:"lead"`
			RaftState string `json:"raftState"`
			Commit    uint64 `json:"commit"`
			Applied   uint64 `json:"applied"`
		} `json:"raft.status"`
	}
	if err := c.get(ctx, "/debug/vars", &vars); err != nil {
		return harness.NodeStatus{}, err
	}
	if vars.Raft == nil {
		return harness.NodeStatus{}, errors.New("etcd: /debug/vars has no raft.status (the member has not started its raft node)")
	}
	rs := vars.Raft
	id, _ := strconv.ParseUint(rs.ID, 16, 64)
	lead, _ := strconv.ParseUint(rs.Lead, 16, 64)
	names, err := s.memberNames(ctx, c, id, lead)
	if err != nil {
		return harness.NodeStatus{}, err
	}
	ns := harness.NodeStatus{ID: names[0], Role: roles[rs.RaftState], Term: rs.Term, Commit: rs.Commit, Applied: rs.Applied}
	if ns.Role == "" {
		ns.Role = "candidate" // pre-candidate: not serving as leader or follower
	}
	if lead != 0 {
		ns.Leader = names[1]
	}
	return ns, nil
}

// memberNames names the raft IDs ids (0: none), asking the member list
// through c only if one of them was not seen before.
func (s *System) memberNames(ctx context.Context, c *gateway, ids ...uint64) ([]string, error) {
	s.namesMu.Lock()
	defer s.namesMu.Unlock()
	unseen := func(id uint64) bool {
		_, ok := s.names[id]
		return id != 0 && !ok
	}
	if slices.ContainsFunc(ids, unseen) {
		var ml struct {
			Members []struct {
				ID   string `json:"ID"`
				Name string `json:"name"`
			} `json:"members"`
		}
		if err := c.call(ctx, "/v3/cluster/member/list", struct{}{}, &ml); err != nil {
			return nil, err
		}
		if s.names == nil {
			s.names = map[uint64]string{}
		}
		for _, m := range ml.Members { // the gateway gives IDs in decimal, raft.status in hex
			if id, err := strconv.ParseUint(m.ID, 10, 64); err == nil {
				s.names[id] = m.Name
			}
		}
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.names[id]
	}
	return out, nil
}

// roles maps raft's StateType names to harness roles.
var roles = map[string]string{"StateLeader": "leader", "StateFollower": "follower", "StateCandidate": "candidate"}

// Digest hashes every key/value the member serves locally (a serializable
// range over the whole keyspace), reports its revision as Applied, and adds
// the revision and the state at the members' lowest revision as pseudo-keys
// (divergence.go: how etcd #13766 shows).
func (s *System) Digest(ctx context.Context, n harness.Node) (harness.Digest, error) {
	c := newGateway(n.Addr(), 10*time.Second)
	defer c.Close()
	var r rangeResp
	all := b64("\x00")
	if err := c.call(ctx, "/v3/kv/range", map[string]any{"key": all, "range_end": all, "serializable": true}, &r); err != nil {
		return harness.Digest{}, err
	}
	h := sha256.New()
	d := harness.Digest{Values: map[string]string{}}
	for _, kv := range r.Kvs {
		k, v := unb64(kv.Key), unb64(kv.Value)
		fmt.Fprintf(h, "%q=%q\n", k, v)
		sum := sha256.Sum256([]byte(v))
		d.Values[k] = hex.EncodeToString(sum[:8])
	}
	d.Digest = hex.EncodeToString(h.Sum(nil))[:16]
	d.Keys = len(r.Kvs)
	fmt.Sscan(r.Header.Revision, &d.Applied)
	rev := int64(d.Applied)
	d.Values[KeyRevision] = strconv.FormatInt(rev, 10)
	st, err := stateAt(ctx, c, s.minRevision(ctx, rev))
	if err != nil {
		return harness.Digest{}, err
	}
	d.Values[KeyState] = st
	return d, nil
}

// etcd is no ClockSetter: an unmodified binary reads the host's clock, and
// there is no honest way to skew one member (see FACTS: libfaketime does not
// reach Go), so clock faults are refused before the run.

// Bugs: etcd has no injectable bugs; known-bad versions are chosen with --etcd-version.
func (s *System) Bugs() []harness.Bug { return nil }

// Option names of the etcd system (flags of `gauntlet run`).
const (
	OptVersion      = "etcd-version"
	OptBinary       = "etcd-binary"
	OptSerializable = "etcd-serializable-reads"
	OptElectionMS   = "etcd-election-ms"
	OptHeartbeatMS  = "etcd-heartbeat-ms"
	OptPadKeys      = "etcd-pad-keys"
	OptLockTTL      = "etcd-lock-ttl"
)

func init() {
	registry.Register(registry.SystemDef{
		Name: "etcd",
		Help: "etcd, built from the Go module proxy at --etcd-version (or --etcd-binary), through its JSON gateway",
		Options: []registry.Option{
			{Name: OptVersion, Default: DefaultVersion, Help: "etcd: version to build (--system etcd)"},
			{Name: OptBinary, Help: "etcd: use this etcd binary instead of building one"},
			{Name: OptSerializable, Kind: registry.Bool, Help: "etcd: serializable (possibly stale) reads instead of linearizable"},
			{Name: OptElectionMS, Kind: registry.Int, Help: "etcd: election timeout in ms (etcd's default 1000; at least 5 heartbeats)"},
			{Name: OptHeartbeatMS, Kind: registry.Int, Help: "etcd: heartbeat interval in ms (etcd's default 100)"},
			{Name: OptLockTTL, Kind: registry.Int, Default: fmt.Sprint(DefaultLockTTL), Help: "etcd: lease TTL in seconds of the lock workload's sessions (etcd raises it to 1.5 election timeouts at least)"},
			{Name: OptPadKeys, Kind: registry.Int, Help: "etcd: write N padding keys; writes and cas also compare them (always true), which lengthens etcd's apply window of #13766"},
		},
		New: newFromConfig,
	})
}

// newFromConfig makes the system from its registered options. etcd refuses
// to start with an election timeout under five heartbeats; that is caught
// here, as a configuration error, rather than as a cluster that never starts.
func newFromConfig(c registry.Config) (harness.System, error) {
	o := Options{Version: c.String(OptVersion), Binary: c.String(OptBinary), SerializableReads: c.Bool(OptSerializable),
		ElectionMS: c.Int(OptElectionMS), HeartbeatMS: c.Int(OptHeartbeatMS), PadKeys: c.Int(OptPadKeys), LockTTL: c.Int(OptLockTTL)}
	for _, f := range []struct {
		name, unit string
		v          int
	}{{OptElectionMS, "milliseconds", o.ElectionMS}, {OptHeartbeatMS, "milliseconds", o.HeartbeatMS}, {OptPadKeys, "keys", o.PadKeys}, {OptLockTTL, "seconds", o.LockTTL}} {
		if c.Set(f.name) && f.v <= 0 {
			return nil, fmt.Errorf("--%s wants a positive number of %s, got %d", f.name, f.unit, f.v)
		}
	}
	election, heartbeat := cmp.Or(o.ElectionMS, 1000), cmp.Or(o.HeartbeatMS, 100)
	if election < 5*heartbeat {
		return nil, fmt.Errorf("--%s %d must be at least 5 × --%s %d (etcd refuses to start otherwise; defaults 1000 and 100)",
			OptElectionMS, election, OptHeartbeatMS, heartbeat)
	}
	if c.Log != nil {
		o.Logf = func(f string, args ...any) { c.Log.Info(fmt.Sprintf(f, args...)) }
	}
	return New(o), nil
}
