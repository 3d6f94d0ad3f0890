package ssh

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// shell is one long-lived `sh` on a host that runs scripts sent on its
// stdin. Faults go through it: a new SSH session per command costs a fork
// of sshd and a start of the user's login shell, which reads its rc files
// (200 ms and more per command where ~/.bashrc does real work, measured on
// the test hosts), while a script written to a running shell costs the nft
// or kill process alone. It is not an agent: plain sh, gone with the
// connection.
type shell struct {
	mu     sync.Mutex
	s      sessionCloser
	in     io.Writer
	lines  chan string // stdout, line by line; closed when the shell ends
	marker string
	broken error       // guarded by mu
	dead   atomic.Bool // broken != nil, readable without waiting for a running script
}

type sessionCloser interface{ Close() error }

// openShell starts the shell and waits until it answers.
func (c *conn) openShell(ctx context.Context) (*shell, error) {
	s, err := c.c.NewSession()
	if err != nil {
		return nil, err
	}
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	out, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Stderr = io.Discard // rc-file noise; scripts send their stderr to stdout
	if err := s.Start("exec sh"); err != nil {
		s.Close()
		return nil, err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	sh := &shell{s: s, in: in, lines: make(chan string, 64), marker: "__gauntlet_done_" + hex.EncodeToString(b)}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			sh.lines <- sc.Text()
		}
		close(sh.lines)
	}()
	// Whatever rc files printed comes before this first answer.
	if _, err := sh.run(ctx, "true"); err != nil {
		s.Close()
		return nil, err
	}
	return sh, nil
}

// run runs script in the shell (in a subshell, so exit and cd stay in it)
// and returns its output (stdout and stderr); a non-zero status is an error.
func (sh *shell) run(ctx context.Context, script string) (string, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.broken != nil {
		return "", sh.broken
	}
	cmd := fmt.Sprintf("( %s\n) </dev/null 2>&1; echo \"%s $?\"\n", script, sh.marker)
	if _, err := io.WriteString(sh.in, cmd); err != nil {
		sh.fail(err)
		return "", sh.broken
	}
	var out strings.Builder
	for {
		select {
		case line, ok := <-sh.lines:
			if !ok {
				sh.fail(errors.New("the shell on the host ended"))
				return out.String(), sh.broken
			}
			if rest, ok := strings.CutPrefix(line, sh.marker+" "); ok {
				code, _ := strconv.Atoi(rest)
				if code != 0 {
					return out.String(), fmt.Errorf("exit status %d: %s", code, strings.TrimSpace(out.String()))
				}
				return out.String(), nil
			}
			out.WriteString(line + "\n")
		case <-ctx.Done():
			// The script's end can no longer be told from the next one's.
			sh.fail(ctx.Err())
			return out.String(), sh.broken
		}
	}
}

func (sh *shell) fail(err error) {
	sh.broken = fmt.Errorf("control shell: %w", err)
	sh.dead.Store(true)
	sh.s.Close()
}

func (sh *shell) close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.broken == nil {
		sh.broken = errors.New("control shell closed")
	}
	sh.dead.Store(true)
	sh.s.Close()
}
