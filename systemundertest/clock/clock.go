// Package clock is the store's only door to time. Election timers, leases and
// wall-clock timestamps all read a Clock, so a test can simulate time and the
// harness can skew one node's clock (POST /debug/clock) without privileges:
// containers share the host's wall clock, and libfaketime does not reach Go.
package clock

import (
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
)

// Clock tells the time and keeps timers: the node's env.Clock, possibly
// skewed.
type Clock = env.Clock

// Skewable is a clock with an adjustable offset over a base clock (the
// node's environment's).
type Skewable struct {
	base   env.Clock
	mu     sync.Mutex
	offset time.Duration
}

var _ Clock = (*Skewable)(nil)

// NewReal returns the operating system's clock with zero offset.
func NewReal() *Skewable { return New(env.OS()) }

// New returns base with zero offset.
func New(base env.Clock) *Skewable { return &Skewable{base: base} }

// Now returns the base time plus the offset. Add moves the monotonic reading
// too, so a duration measured across a SetOffset includes the change: that
// is the point (a skewed node's leases and timers see the jump).
func (c *Skewable) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return c.base.Now().Add(off)
}

// NewTimer, NewTicker and AfterFunc are the base clock's: a skew moves
// readings of the time, not the length of a duration.
func (c *Skewable) NewTimer(d time.Duration) env.Timer   { return c.base.NewTimer(d) }
func (c *Skewable) NewTicker(d time.Duration) env.Ticker { return c.base.NewTicker(d) }
func (c *Skewable) AfterFunc(d time.Duration, f func()) env.Timer {
	return c.base.AfterFunc(d, f)
}

// SetOffset sets the skew from true time.
func (c *Skewable) SetOffset(d time.Duration) {
	c.mu.Lock()
	c.offset = d
	c.mu.Unlock()
}

// Offset returns the current skew.
func (c *Skewable) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}
