package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

// proc is one node's process, across restarts.
type proc struct {
	id      string
	launch  harness.Launch
	logPath string
	log     harness.Logger
	spawn   *spawner

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has been reaped
	exitErr error
	paused  bool
	starts  int
	// expected is set when the harness itself ends the process, so an exit
	// it did not cause is reported.
	expected bool
	// closed: the cluster is being torn down; no more starts, so a restart
	// racing with Close cannot leave a process behind.
	closed bool
}

// start launches the process unless it runs already. Output is appended to
// the node's log file after a marker line, so restarts read in order.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("start %s: the cluster is closed", p.id)
	}
	if p.cmd != nil && !isDone(p.exited) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p.logPath), 0o755); err != nil {
		return fmt.Errorf("start %s: log dir: %w", p.id, err)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: log: %w", p.id, err)
	}
	defer f.Close() // the child holds its own copy of the descriptor
	p.starts++
	fmt.Fprintf(f, "=== gauntlet: start #%d of %s at %s: %s %s\n", p.starts, p.id,
		time.Now().UTC().Format(time.RFC3339Nano), p.launch.Binary, strings.Join(p.launch.Args, " "))
	cmd := exec.Command(p.launch.Binary, p.launch.Args...)
	cmd.Env = append(os.Environ(), p.launch.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: a Ctrl-C at the terminal reaches the harness
	// only, which then tears down in order. Pdeathsig: if the harness is
	// SIGKILLed, the kernel kills the nodes too (see spawner for why the
	// fork happens on a thread of its own).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.spawn.start(cmd); err != nil {
		return fmt.Errorf("start %s: %w", p.id, err)
	}
	p.cmd, p.exited, p.exitErr, p.paused, p.expected = cmd, make(chan struct{}), nil, false, false
	exited := p.exited
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		expected := p.expected
		p.mu.Unlock()
		close(exited)
		if !expected {
			p.log.Warn("node exited by itself", "node", p.id, "pid", cmd.Process.Pid, "status", exitText(err), "log", p.logPath)
		}
	}()
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// running returns the live process and its exit channel, or nil.
func (p *proc) running() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isDone(p.exited) {
		return nil, nil
	}
	return p.cmd, p.exited
}

// signal sends sig to the node's process group.
func (p *proc) signal(sig syscall.Signal) error {
	cmd, _ := p.running()
	if cmd == nil {
		return fmt.Errorf("%s is not running", p.id)
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s to %s: %w", sig, p.id, err)
	}
	return nil
}

// kill SIGKILLs the node and waits until it is reaped. Killing a node that
// is not running is not an error: the node is down either way.
func (p *proc) kill(ctx context.Context) error {
	cmd, exited := p.running()
	if cmd == nil {
		return nil
	}
	p.setExpected()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s: %w", p.id, err)
	}
	return p.wait(ctx, exited)
}

// close stops the node for good: later starts fail.
func (p *proc) close(grace time.Duration) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return p.stop(context.Background(), grace)
}

// stop sends SIGTERM (and SIGCONT, so a paused node can act on it), then
// SIGKILL after grace.
func (p *proc) stop(ctx context.Context, grace time.Duration) error {
	cmd, exited := p.running()
	if cmd == nil {
		return nil
	}
	p.setExpected()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	// Reaping after SIGKILL is quick; do not give up on it because ctx ended.
	return p.wait(context.Background(), exited)
}

func (p *proc) setExpected() {
	p.mu.Lock()
	p.expected = true
	p.mu.Unlock()
}

func (p *proc) wait(ctx context.Context, exited chan struct{}) error {
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s to exit: %w", p.id, ctx.Err())
	case <-t.C:
		return fmt.Errorf("%s did not exit within 10s of SIGKILL", p.id)
	}
}

// pause SIGSTOPs the node and waits (up to 1 s) until the kernel shows it
// stopped, so that a pause the nemesis reports has happened.
func (p *proc) pause() error {
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
	pid := p.pid()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		st := procState(pid)
		if st == "" || st == "T" || st == "t" { // "" = no /proc: nothing to wait on
			return nil
		}
	}
	return fmt.Errorf("pause: %s (pid %d) not stopped 1s after SIGSTOP (state %s)", p.id, pid, procState(pid))
}

// procState is the state letter in /proc/<pid>/stat ("" if unreadable).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func (p *proc) resume() error {
	cmd, _ := p.running()
	if cmd == nil {
		return nil // a node that is down has nothing to resume
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	pid := p.pid()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if st := procState(pid); st != "T" && st != "t" {
			return nil
		}
	}
	return fmt.Errorf("resume: %s (pid %d) still stopped 1s after SIGCONT", p.id, pid)
}

// pid of the live process, 0 if none.
func (p *proc) pid() int {
	cmd, _ := p.running()
	if cmd == nil {
		return 0
	}
	return cmd.Process.Pid
}

// exitStatus describes how the last process ended, "" while it runs.
func (p *proc) exitStatus() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !isDone(p.exited) {
		return ""
	}
	return exitText(p.exitErr)
}

// logTail returns the last lines of the node's log.
func (p *proc) logTail(lines int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
