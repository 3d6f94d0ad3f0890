package sim

import (
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
)

// clock is a node's: virtual time plus an offset, and timers that do not
// fire while the node is paused (they fire at Resume, late, as a stopped
// process's would). Under the world's lock.
type clock struct {
	w      *World
	node   string
	offset time.Duration
	paused bool
	// due are firings that came while paused; heldConns are connections
	// whose next segment waits for the node's Resume.
	due       []func()
	heldConns map[*conn]bool
}

// resumeLocked unpauses and returns the firings that came meanwhile.
func (c *clock) resumeLocked() []func() {
	c.paused = false
	due := c.due
	c.due = nil
	return due
}

func (c *clock) now() time.Time {
	c.w.mu.Lock()
	off := c.offset
	c.w.mu.Unlock()
	return time.Now().Add(off)
}

// fire runs f now, or at Resume if the node is paused.
func (c *clock) fire(f func()) {
	c.w.mu.Lock()
	if c.paused {
		c.due = append(c.due, f)
		c.w.mu.Unlock()
		return
	}
	c.w.mu.Unlock()
	f()
}

// timer is a channel timer or an AfterFunc on a node's clock.
type timer struct {
	clk *clock
	ch  chan time.Time
	f   func()
	t   *time.Timer
}

func (c *clock) newTimer(d time.Duration, f func()) *timer {
	t := &timer{clk: c, f: f}
	if f == nil {
		t.ch = make(chan time.Time, 1)
	}
	t.t = time.AfterFunc(d, t.expire)
	return t
}

func (t *timer) expire() {
	t.clk.fire(func() {
		if t.f != nil {
			go t.f()
			return
		}
		select {
		case t.ch <- t.clk.now():
		default:
		}
	})
}

func (t *timer) C() <-chan time.Time { return t.ch }
func (t *timer) Stop() bool          { return t.t.Stop() }

func (t *timer) Reset(d time.Duration) bool {
	active := t.t.Stop()
	if t.ch != nil {
		select { // as time.Timer since Go 1.23: no stale value after Reset
		case <-t.ch:
		default:
		}
	}
	t.t.Reset(d)
	return active
}

// ticker re-arms itself each period; ticks a slow reader misses are
// dropped, as time.Ticker's are.
type ticker struct {
	clk     *clock
	ch      chan time.Time
	t       *time.Timer
	period  time.Duration
	stopped bool // under the world's lock
	due     bool // a tick waits for Resume
}

func (c *clock) newTicker(d time.Duration) *ticker {
	if d <= 0 {
		panic("sim: non-positive interval for NewTicker")
	}
	tk := &ticker{clk: c, ch: make(chan time.Time, 1), period: d}
	c.w.mu.Lock() // tick reads tk.t under the lock: it may fire before this returns
	tk.t = time.AfterFunc(d, tk.tick)
	c.w.mu.Unlock()
	return tk
}

func (tk *ticker) tick() {
	c := tk.clk
	c.w.mu.Lock()
	if tk.stopped {
		c.w.mu.Unlock()
		return
	}
	p, t := tk.period, tk.t
	send := !c.paused
	if c.paused && !tk.due {
		tk.due = true
		c.due = append(c.due, func() {
			c.w.mu.Lock()
			tk.due = false
			c.w.mu.Unlock()
			tk.send()
		})
	}
	c.w.mu.Unlock()
	if send {
		tk.send()
	}
	t.Reset(p)
}

func (tk *ticker) send() {
	select {
	case tk.ch <- tk.clk.now():
	default:
	}
}

func (tk *ticker) C() <-chan time.Time { return tk.ch }

func (tk *ticker) Stop() {
	tk.clk.w.mu.Lock()
	tk.stopped = true
	tk.clk.w.mu.Unlock()
	tk.t.Stop()
}

func (tk *ticker) Reset(d time.Duration) {
	tk.clk.w.mu.Lock()
	tk.period = d
	tk.stopped = false
	tk.clk.w.mu.Unlock()
	tk.t.Reset(d)
}

var (
	_ env.Timer  = (*timer)(nil)
	_ env.Ticker = (*ticker)(nil)
)
