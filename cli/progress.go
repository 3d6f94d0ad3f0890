package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func newEnv() *env {
	tty := false
	if fi, err := os.Stdout.Stat(); err == nil {
		tty = fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
	}
	return &env{stdout: os.Stdout, stderr: os.Stderr, tty: tty, program: programName()}
}

// programName is the name this command runs by: a team's program that
// calls Main prints its own name in the replay lines of its runs.
func programName() string {
	name := filepath.Base(os.Args[0])
	if name == "" || name == "." || strings.HasSuffix(name, ".test") {
		return "gauntlet"
	}
	return name
}

// prog is e's program name, "gauntlet" if unset.
func (e *env) prog() string {
	if e.program == "" {
		return "gauntlet"
	}
	return e.program
}

// progressLine shows a run's progress: one line rewritten in place on a
// terminal, plain lines (phase changes, and every 5 s of the main phase)
// otherwise.
type progressLine struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	live     bool // a live line is on screen
	phase    string
	lastLine time.Time
}

func newProgressLine(w io.Writer, tty bool) *progressLine { return &progressLine{w: w, tty: tty} }

func (p *progressLine) update(pr harness.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := pr.Phase != p.phase
	p.phase = pr.Phase
	if pr.Phase == harness.PhaseDone {
		return
	}
	line := p.format(pr)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.live = true
		return
	}
	if changed || (pr.Phase == harness.PhaseMain && time.Since(p.lastLine) >= 5*time.Second) {
		fmt.Fprintln(p.w, line)
		p.lastLine = time.Now()
	}
}

func (p *progressLine) format(pr harness.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s", pr.Phase)
	if pr.Phase == harness.PhaseMain {
		fmt.Fprintf(&b, " %5.1fs/%-5.0fs %6.0f ops/s", pr.Elapsed.Seconds(), (pr.Elapsed + pr.Remaining).Seconds(), pr.Rate)
	}
	if pr.OK+pr.Fail+pr.Info > 0 {
		fmt.Fprintf(&b, "  ok %d fail %d info %d", pr.OK, pr.Fail, pr.Info)
	}
	if len(pr.Faults) > 0 {
		fmt.Fprintf(&b, "  faults: %s", strings.Join(pr.Faults, "; "))
	}
	s := b.String()
	if p.tty && len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// println prints a message above the live line.
func (p *progressLine) println(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintln(p.w, msg)
}

func (p *progressLine) clearLocked() {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}

// done ends the live line.
func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		fmt.Fprintln(p.w)
		p.live = false
	}
}

// logWriter is w with the live line cleared before each log line.
func (p *progressLine) logWriter(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.clearLocked()
		return w.Write(b)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
