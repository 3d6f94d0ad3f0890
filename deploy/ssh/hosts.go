package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// HostsFile is the --hosts file: defaults for every host, then the hosts.
//
//	user: gauntlet
//	key: ~/.ssh/id_ed25519         # or agent: true
//	known_hosts: ~/.ssh/known_hosts
//	data_dir: /var/tmp/gauntlet
//	sudo: true
//	node_port: 7000
//	hosts:
//	  - address: db1.example.net   # where the harness connects with SSH
//	    peer_address: 10.0.0.11    # where the other nodes reach this one (default: address)
//	  - address: db2.example.net
//	    port: 2222
type HostsFile struct {
	Host  `yaml:",inline"`
	Hosts []Host `yaml:"hosts"`
	// NodePort is the port every node listens on (clients and peers); a
	// system with a separate peer listener gets NodePort+1.
	NodePort int `yaml:"node_port"`
	// InsecureIgnoreHostKeys accepts any host key. It is logged loudly at
	// every connection: it lets anyone on the path impersonate a host.
	InsecureIgnoreHostKeys bool `yaml:"insecure_ignore_host_keys"`
	// KnownHosts is the known_hosts file host keys are checked against.
	KnownHosts string `yaml:"known_hosts"`

	path string
}

// Host is one machine. Fields left empty take the file's defaults.
type Host struct {
	Address     string `yaml:"address"`      // SSH host name or IP
	Port        int    `yaml:"port"`         // SSH port (22)
	User        string `yaml:"user"`         // SSH user (the local user's name)
	Key         string `yaml:"key"`          // private key file
	Agent       *bool  `yaml:"agent"`        // use $SSH_AUTH_SOCK
	PeerAddress string `yaml:"peer_address"` // where the other nodes dial this one (Address)
	// ClientAddress is where the harness's clients reach the node
	// (PeerAddress).
	ClientAddress string `yaml:"client_address"`
	// DataDir holds everything Gauntlet puts on the host, under
	// DataDir/gauntlet-<run>; the next run removes what a dead one left.
	DataDir string `yaml:"data_dir"`
	Sudo    *bool  `yaml:"sudo"` // run nft and tc with sudo -n (false)
	// NodeBinary is a node binary installed on the host, used instead of
	// uploading one built here (then the system's Build is not called).
	NodeBinary string `yaml:"node_binary"`

	peerIP net.IP // PeerAddress resolved: nft rules need an address
}

// defaultNodePort is where nodes listen unless node_port says otherwise.
const defaultNodePort = 7000

// LoadHosts reads and checks a hosts file. Errors name the file and the host.
func LoadHosts(path string) (*HostsFile, error) {
	if path == "" {
		return nil, errors.New("the ssh deployment needs --hosts FILE (a YAML list of hosts; see docs/beyond-one-machine.md)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hosts file: %w", err)
	}
	var f HostsFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("hosts file %s: %w", path, err)
	}
	f.path = path
	if err := f.resolve(); err != nil {
		return nil, fmt.Errorf("hosts file %s: %w", path, err)
	}
	return &f, nil
}

// resolve applies defaults and checks every host.
func (f *HostsFile) resolve() error {
	if len(f.Hosts) == 0 {
		return errors.New("no hosts (want `hosts:` with at least one `- address: …`)")
	}
	if f.NodePort == 0 {
		f.NodePort = defaultNodePort
	}
	if f.NodePort < 1 || f.NodePort > 65534 {
		return fmt.Errorf("node_port %d: want 1..65534", f.NodePort)
	}
	if f.KnownHosts == "" && !f.InsecureIgnoreHostKeys {
		home, _ := os.UserHomeDir()
		f.KnownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	f.KnownHosts = expandHome(f.KnownHosts)
	seen := map[string]bool{}
	for i := range f.Hosts {
		h := &f.Hosts[i]
		h.inherit(f.Host)
		if h.Address == "" {
			return fmt.Errorf("host %d has no address", i+1)
		}
		if err := h.check(); err != nil {
			return fmt.Errorf("host %s: %w", h.Address, err)
		}
		// One node per host: partitions are made per host address, and
		// nodes in one folder would sweep each other away.
		if seen[h.peerIP.String()] {
			return fmt.Errorf("peer address %s is listed twice (one node per host)", h.PeerAddress)
		}
		seen[h.peerIP.String()] = true
	}
	return nil
}

func (h *Host) inherit(d Host) {
	for _, p := range []struct{ dst, def *string }{
		{&h.User, &d.User}, {&h.Key, &d.Key}, {&h.DataDir, &d.DataDir}, {&h.NodeBinary, &d.NodeBinary},
	} {
		if *p.dst == "" {
			*p.dst = *p.def
		}
	}
	if h.Port == 0 {
		h.Port = d.Port
	}
	if h.Agent == nil {
		h.Agent = d.Agent
	}
	if h.Sudo == nil {
		h.Sudo = d.Sudo
	}
}

func (h *Host) check() error {
	if h.Port == 0 {
		h.Port = 22
	}
	if h.User == "" {
		h.User = os.Getenv("USER")
	}
	if u, err := user.Current(); h.User == "" && err == nil {
		h.User = u.Username // as ssh does
	}
	if h.User == "" {
		return errors.New("no user (set `user:`)")
	}
	h.Key = expandHome(h.Key)
	if h.Key == "" && h.Agent == nil {
		// As ssh does: the agent if one runs, else the usual key files.
		if os.Getenv("SSH_AUTH_SOCK") != "" {
			yes := true
			h.Agent = &yes
		}
		home, _ := os.UserHomeDir()
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if p := filepath.Join(home, ".ssh", k); home != "" && fileExists(p) {
				h.Key = p
				break
			}
		}
	}
	if h.Key == "" && !h.agent() {
		return errors.New("no way to log in: set `key: FILE` or `agent: true` (no agent runs and ~/.ssh has no id_ed25519, id_ecdsa or id_rsa)")
	}
	if h.DataDir == "" {
		h.DataDir = "/var/tmp/gauntlet"
	}
	if !strings.HasPrefix(h.DataDir, "/") || strings.ContainsAny(h.DataDir, " '\"$`\\;&|<>*?\n") {
		return fmt.Errorf("data_dir %q: want an absolute path without spaces or shell characters", h.DataDir)
	}
	if h.NodeBinary != "" && (!strings.HasPrefix(h.NodeBinary, "/") || strings.ContainsAny(h.NodeBinary, "\n")) {
		return fmt.Errorf("node_binary %q: want an absolute path on the host", h.NodeBinary)
	}
	if h.PeerAddress == "" {
		h.PeerAddress = h.Address
	}
	if h.ClientAddress == "" {
		h.ClientAddress = h.PeerAddress
	}
	ip := net.ParseIP(h.PeerAddress)
	if ip == nil {
		ips, err := net.LookupIP(h.PeerAddress)
		if err != nil || len(ips) == 0 {
			return fmt.Errorf("peer_address %s does not resolve (partitions need its IP): %v", h.PeerAddress, err)
		}
		ip = ips[0]
	}
	h.peerIP = ip
	return nil
}

func (h *Host) agent() bool { return h.Agent != nil && *h.Agent }
func (h *Host) sudo() bool  { return h.Sudo != nil && *h.Sudo }

// sshAddr is host:port for the SSH connection.
func (h *Host) sshAddr() string { return net.JoinHostPort(h.Address, strconv.Itoa(h.Port)) }

// String names the host in errors and logs.
func (h *Host) String() string { return h.User + "@" + h.sshAddr() }

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
