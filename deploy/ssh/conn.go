package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// dialTimeout bounds the TCP connect and SSH handshake to one host.
const dialTimeout = 10 * time.Second

// conn is one SSH connection to a host; commands run on sessions of it,
// concurrently (a session per command, as ssh host cmd does).
type conn struct {
	host *Host
	c    *ssh.Client

	shMu sync.Mutex
	sh   *shell // for faults; (re)opened on first use
}

// HostError names the host a problem is with; Config says whether the
// user's files are wrong (exit 64) rather than the host unreachable (3).
type HostError struct {
	Host   string
	Config bool
	Err    error
}

func (e *HostError) Error() string { return "host " + e.Host + ": " + e.Err.Error() }
func (e *HostError) Unwrap() error { return e.Err }

// dial connects and authenticates, checking the host key unless the hosts
// file says not to (which is logged loudly, every time).
func dial(ctx context.Context, f *HostsFile, h *Host, log harness.Logger) (*conn, error) {
	hostErr := func(config bool, format string, args ...any) error {
		return &HostError{Host: h.String(), Config: config, Err: fmt.Errorf(format, args...)}
	}
	auth, closeAgent, err := authMethods(h)
	if err != nil {
		return nil, hostErr(true, "%w", err)
	}
	defer closeAgent()
	var hostKey ssh.HostKeyCallback
	if f.InsecureIgnoreHostKeys {
		hostKey = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			log.Warn("ssh: INSECURE: host key NOT checked (insecure_ignore_host_keys: true in the hosts file)",
				"host", h.String(), "key", ssh.FingerprintSHA256(key))
			return nil
		}
	} else {
		hostKey, err = knownhosts.New(f.KnownHosts)
		if err != nil {
			return nil, hostErr(true, "known_hosts %s: %w (list the host's key there, e.g. with ssh-keyscan, or set insecure_ignore_host_keys)", f.KnownHosts, err)
		}
	}
	cfg := &ssh.ClientConfig{User: h.User, Auth: auth, HostKeyCallback: hostKey, Timeout: dialTimeout}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", h.sshAddr())
	if err != nil {
		return nil, hostErr(false, "unreachable: %w", err)
	}
	// The handshake has no context: a deadline bounds it.
	_ = nc.SetDeadline(time.Now().Add(dialTimeout))
	sc, chans, reqs, err := ssh.NewClientConn(nc, h.sshAddr(), cfg)
	if err != nil {
		nc.Close()
		var kerr *knownhosts.KeyError
		switch {
		case errors.As(err, &kerr) && len(kerr.Want) == 0:
			return nil, hostErr(true, "host key unknown: %s has no entry for it in %s (add it, e.g. ssh-keyscan -p %d %s >> %s)",
				h.sshAddr(), f.KnownHosts, h.Port, h.Address, f.KnownHosts)
		case errors.As(err, &kerr):
			return nil, hostErr(true, "host key MISMATCH: the key offered differs from the one in %s (a changed host, or someone in between)", f.KnownHosts)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, hostErr(true, "login as %s refused: %w (check key/agent and the host's authorized_keys)", h.User, err)
		}
		return nil, hostErr(false, "ssh handshake: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return &conn{host: h, c: ssh.NewClient(sc, chans, reqs)}, nil
}

// authMethods are the key file and/or the agent.
func authMethods(h *Host) ([]ssh.AuthMethod, func(), error) {
	var out []ssh.AuthMethod
	closeAgent := func() {}
	if h.Key != "" {
		b, err := os.ReadFile(h.Key)
		if err != nil {
			return nil, closeAgent, fmt.Errorf("key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, closeAgent, fmt.Errorf("key %s: %w (passphrase-protected keys need agent: true)", h.Key, err)
		}
		out = append(out, ssh.PublicKeys(signer))
	}
	if h.agent() {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, closeAgent, errors.New("agent: true but SSH_AUTH_SOCK is not set")
		}
		ac, err := net.Dial("unix", sock)
		if err != nil {
			return nil, closeAgent, fmt.Errorf("ssh agent: %w", err)
		}
		// The agent is only needed during the handshake.
		closeAgent = func() { ac.Close() }
		out = append(out, ssh.PublicKeysCallback(agent.NewClient(ac).Signers))
	}
	return out, closeAgent, nil
}

// run runs a shell command on the host with stdin, and returns its stdout.
// A non-zero exit is an error carrying stderr. ctx cancels by closing the
// session (the remote command gets SIGHUP from sshd).
func (c *conn) run(ctx context.Context, cmd string, stdin io.Reader) (string, error) {
	s, err := c.c.NewSession()
	if err != nil {
		return "", &HostError{Host: c.host.String(), Err: fmt.Errorf("new session: %w", err)}
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &out, &errb, stdin
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Close()
		return "", &HostError{Host: c.host.String(), Err: fmt.Errorf("%s: %w", firstWord(cmd), ctx.Err())}
	}
	if err != nil {
		return out.String(), &HostError{Host: c.host.String(),
			Err: fmt.Errorf("%s: %w: %s", firstWord(cmd), err, strings.TrimSpace(errb.String()))}
	}
	return out.String(), nil
}

// root prefixes a command that needs root with sudo -n when the host says so.
func (c *conn) root(cmd string) string {
	if c.host.sudo() {
		return "sudo -n " + cmd
	}
	return cmd
}

// fast runs script in the host's control shell (see shell), opening it if
// needed; where no shell can be had it takes a session of its own.
func (c *conn) fast(ctx context.Context, script string) (string, error) {
	c.shMu.Lock()
	if c.sh == nil || c.sh.dead.Load() {
		sh, err := c.openShell(ctx)
		if err != nil {
			c.shMu.Unlock()
			return c.run(ctx, script, nil)
		}
		c.sh = sh
	}
	sh := c.sh
	c.shMu.Unlock()
	out, err := sh.run(ctx, script)
	if err != nil {
		return out, &HostError{Host: c.host.String(), Err: fmt.Errorf("%s: %w", firstWord(script), err)}
	}
	return out, nil
}

func (c *conn) close() error {
	c.shMu.Lock()
	if c.sh != nil {
		c.sh.close()
	}
	c.shMu.Unlock()
	return c.c.Close()
}

func firstWord(cmd string) string {
	cmd = strings.TrimSpace(cmd)
	if i := strings.IndexAny(cmd, " \n"); i > 0 {
		return cmd[:i]
	}
	return cmd
}

// quote makes s one word for a POSIX shell.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
