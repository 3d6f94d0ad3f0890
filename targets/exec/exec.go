// Package exec tests a system written in any language, with no Go: a YAML
// file says how to launch a node and which optional endpoints of Gauntlet's
// wire protocol (docs/protocol.md) it serves, and the node speaks that
// protocol. It registers the scheme --system exec:FILE.
//
//	protocol: 1
//	command: [python3, "{dir}/store.py", --id, "{id}", --listen, "{listen}", --peers, "{peers}", --data, "{data}"]
//	env: {PYTHONUNBUFFERED: "1"}
//	ports: [peer]           # more ports than the client port: {port:peer}
//	health: /debug/status   # GET path that answers 200 when the node serves; default: TCP connect
//	status: true            # GET /debug/status (role, leader, term): health and leader-aimed faults
//	leader: true            # the status names a leader
//	elections: true         # role and term are one snapshot of the current term: check one leader per term
//	digest: true            # GET /debug/digest: convergence after recovery
//	clock: false            # POST /debug/clock: clock faults
//	txn: true               # POST /txn (protocol 2): list-append, rw-register, bank
//	lock: true              # POST /lock/{name}/acquire and /release: the lock workload
//	lock_ttl: 1s            # the lease a lock client asks for (default 1s)
//	consistency: serializable  # what its transactions promise (default strict-serializable)
//	set: true               # POST /set/{key}/add, GET /set/{key} (protocol 2): the set workload
//	counter: true           # POST /counter/{key}/add, GET /counter/{key} (protocol 2): the counter workload
//	bugs:                   # --bug NAME adds the bug's args to the command (and fills {bug})
//	  - {name: lose-acked-writes, args: [--lose-acked-writes], description: "...", workload: kv, nemesis: [kill]}
//
// Placeholders: {id}, {listen} (client host:port), {host}, {port} (its two
// halves), {port:NAME} (a port named in ports), {peers} (id=host:port,… in id
// order, every node itself included, the address this node dials each peer
// at), {data} (the node's data directory), {bug} ("" without --bug) and {dir}
// (the folder of the system file). An unknown placeholder is an error before
// anything starts; an argument that is one placeholder alone and fills to
// "" ({bug} without --bug) is left out.
package exec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/targets/kit"
	"github.com/gauntlet-dev/gauntlet/targets/wire"
)

// Scheme is the prefix of --system exec:FILE.
const Scheme = "exec"

// File is a system file.
type File struct {
	Protocol int               `yaml:"protocol"`
	Command  []string          `yaml:"command"`
	Env      map[string]string `yaml:"env"`
	Ports    []string          `yaml:"ports"`
	Health   string            `yaml:"health"`
	Status   bool              `yaml:"status"`
	Leader   bool              `yaml:"leader"`
	// Elections: a status's role and term are read together and the term
	// is the node's current term, so two nodes that say they lead one term
	// break election safety (harness.ElectionReporter).
	Elections bool  `yaml:"elections"`
	Digest    bool  `yaml:"digest"`
	Clock     bool  `yaml:"clock"`
	Bugs      []Bug `yaml:"bugs"`
	// Txn: the node serves POST /txn (protocol 2), so the transactional
	// workloads run on it; Consistency is the model its transactions
	// promise (txn.go).
	Txn         bool   `yaml:"txn"`
	Consistency string `yaml:"consistency"`
	// Set and Counter: the node serves the set and counter endpoints
	// (protocol 2, setctr.go).
	Set     bool `yaml:"set"`
	Counter bool `yaml:"counter"`
	// OpTimeout bounds one request (default 2s; the harness's --op-timeout
	// bounds each op as well).
	OpTimeout time.Duration `yaml:"op_timeout"`
	// Timescale: how long the nodes go without a leader before they elect
	// another (harness.Timescaler); timed faults scale by it.
	Timescale time.Duration `yaml:"timescale"`
	// DebugPort names the port (one of Ports) the /debug endpoints are
	// served on; "" = the client port.
	DebugPort string `yaml:"debug_port"`
	// Lock: the node serves the lock endpoints; LockTTL is the lease its
	// clients ask for (lock.go).
	Lock    bool          `yaml:"lock"`
	LockTTL time.Duration `yaml:"lock_ttl"`
}

var placeholder = regexp.MustCompile(`\{([^{}]*)\}`)

// Load reads and checks a system file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("system file: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("system file %s: %w", path, err)
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("system file %s: %w", path, err)
	}
	return &f, nil
}

func (f *File) check() error {
	var errs []error
	if f.Protocol < 1 || f.Protocol > wire.Version {
		errs = append(errs, fmt.Errorf("protocol: %d; this Gauntlet speaks protocol 1 to %d (write `protocol: %d`)", f.Protocol, wire.Version, wire.Version))
	}
	errs = append(errs, f.checkTxn()...)
	errs = append(errs, f.checkLock()...)
	errs = append(errs, f.checkSetCounter()...)
	if len(f.Command) == 0 || f.Command[0] == "" {
		errs = append(errs, errors.New("command: missing; say how to start a node, e.g. command: [python3, \"{dir}/store.py\", --listen, \"{listen}\"]"))
	}
	known := []string{"id", "listen", "host", "port", "peers", "data", "bug", "dir"}
	for _, p := range f.Ports {
		if p == harness.PortClient || p == "" || strings.ContainsAny(p, "{}: ") {
			errs = append(errs, fmt.Errorf("ports: %q is not a port name (one word, not %q)", p, harness.PortClient))
		}
		known = append(known, "port:"+p)
	}
	args := append(slices.Clone(f.Command), envValues(f.Env)...)
	for _, b := range f.Bugs {
		args = append(args, b.Args...)
	}
	for _, arg := range args {
		for _, m := range placeholder.FindAllStringSubmatch(arg, -1) {
			if !slices.Contains(known, m[1]) {
				errs = append(errs, fmt.Errorf("unknown placeholder {%s} in %q (known: {%s})", m[1], arg, strings.Join(known, "}, {")))
			}
		}
	}
	if err := checkDebugPort(f); err != nil {
		errs = append(errs, err)
	}
	if f.Timescale < 0 {
		errs = append(errs, fmt.Errorf("timescale: %s must be positive (an election timeout such as 5s)", f.Timescale))
	}
	if f.Health != "" && !strings.HasPrefix(f.Health, "/") {
		errs = append(errs, fmt.Errorf("health: %q must be an HTTP path starting with /", f.Health))
	}
	if f.Leader && !f.Status {
		errs = append(errs, errors.New("leader: true needs status: true (the leader is read from GET /debug/status)"))
	}
	if f.Elections && !f.Leader {
		errs = append(errs, errors.New("elections: true needs leader: true (a leader per term is what it checks)"))
	}
	for _, b := range f.Bugs {
		if b.Name == "" {
			errs = append(errs, errors.New("bugs: an entry has no name"))
		}
	}
	return errors.Join(errs...)
}

func envValues(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, v := range env {
		out = append(out, v)
	}
	return out
}

// Bug is a catalog entry of a system file: Args are added to the command
// when it is switched on.
type Bug struct {
	harness.Bug `yaml:",inline"`
	Args        []string `yaml:"args"`
}

// System is a system described by a file.
type System struct {
	name string
	dir  string
	f    *File
}

var (
	_ harness.System         = (*System)(nil)
	_ harness.LeaderReporter = (*System)(nil)
	_ harness.Digester       = (*System)(nil)
	_ harness.ClockSetter    = (*System)(nil)
	_ harness.Capable        = (*System)(nil)
)

// New reads the system file at path; name is what the system is called
// (exec:path).
func New(name, path string) (*System, error) {
	f, err := Load(path)
	if err != nil {
		return nil, err
	}
	if f.OpTimeout <= 0 {
		f.OpTimeout = 2 * time.Second
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return &System{name: name, dir: dir, f: f}, nil
}

func (s *System) Name() string { return s.name }

// Has: the file says which optional endpoints the node serves. Status
// counts when the file declares status or a health path.
func (s *System) Has(c harness.Capability) bool {
	switch c {
	case harness.CapStatus:
		return s.f.Status || s.f.Health != ""
	case harness.CapDigest:
		return s.f.Digest
	case harness.CapClock:
		return s.f.Clock
	}
	return false
}

// Ports are the file's extra ports.
func (s *System) Ports() []string { return s.f.Ports }

// ReportsLeader is the file's leader: true.
func (s *System) ReportsLeader() bool { return s.f.Leader }

// ReportsElections is the file's elections: true.
func (s *System) ReportsElections() bool { return s.f.Elections }

// Bugs is the file's catalog.
func (s *System) Bugs() []harness.Bug {
	out := make([]harness.Bug, len(s.f.Bugs))
	for i, b := range s.f.Bugs {
		out[i] = b.Bug
	}
	return out
}

// Launch fills the command's placeholders for node n.
func (s *System) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	host, port, err := net.SplitHostPort(n.Listen)
	if err != nil {
		return harness.Launch{}, fmt.Errorf("listen address %q: %w", n.Listen, err)
	}
	vals := map[string]string{"id": n.ID, "listen": n.Listen, "host": host, "port": port,
		"peers": kit.PeerList(n.Peers), "data": n.DataDir, "bug": n.Bug, "dir": s.dir}
	for name, addr := range n.Ports {
		vals["port:"+name] = addr
	}
	fill := func(arg string) string {
		return placeholder.ReplaceAllStringFunc(arg, func(m string) string { return vals[m[1:len(m)-1]] })
	}
	l := harness.Launch{Binary: fill(s.f.Command[0])}
	for _, a := range s.f.Command[1:] {
		v := fill(a)
		if v == "" && placeholder.MatchString(a) && placeholder.FindString(a) == a {
			continue
		}
		l.Args = append(l.Args, v)
	}
	for _, b := range s.f.Bugs {
		if b.Name == n.Bug {
			l.Args = append(l.Args, b.Args...)
		}
	}
	keys := make([]string, 0, len(s.f.Env))
	for k := range s.f.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l.Env = append(l.Env, k+"="+fill(s.f.Env[k]))
	}
	return l, nil
}

// NewClient speaks the wire protocol to node n's client port.
func (s *System) NewClient(n harness.Node) (harness.Client, error) {
	return wire.NewClient(n.ID, n.Addr(), s.f.OpTimeout).WithLockTTL(s.lockTTL()), nil
}

// Status is GET /debug/status, or, with only a health path, a GET of it
// that must answer 200.
func (s *System) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	addr := s.debugAddr(n)
	if s.f.Status {
		return wire.Status(ctx, addr, s.f.OpTimeout)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+s.f.Health, nil)
	if err != nil {
		return harness.NodeStatus{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return harness.NodeStatus{}, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return harness.NodeStatus{}, fmt.Errorf("health %s: %s", s.f.Health, resp.Status)
	}
	return harness.NodeStatus{}, nil
}

// Digest is GET /debug/digest.
func (s *System) Digest(ctx context.Context, n harness.Node) (harness.Digest, error) {
	if !s.f.Digest {
		return harness.Digest{}, fmt.Errorf("%s serves no digest: %w", s.name, harness.ErrUnsupported)
	}
	return wire.Digest(ctx, s.debugAddr(n), 10*time.Second)
}

// SetClock is POST /debug/clock.
func (s *System) SetClock(ctx context.Context, n harness.Node, offset time.Duration) error {
	if !s.f.Clock {
		return fmt.Errorf("%s has no clock endpoint: %w", s.name, harness.ErrUnsupported)
	}
	return wire.SetClock(ctx, s.debugAddr(n), offset, s.f.OpTimeout)
}

func init() {
	registry.Register(registry.SystemDef{
		Name: Scheme, Scheme: true,
		Help: "a system in any language that speaks Gauntlet's wire protocol, launched as FILE (YAML) says",
		New: func(c registry.Config) (harness.System, error) {
			if c.Arg == "" {
				return nil, errors.New("--system exec:FILE needs the path of a system file after exec:")
			}
			return New(c.Name, c.Arg)
		},
	})
}
