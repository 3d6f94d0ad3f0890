// Package clock is the store's only door to time. Election timers, leases and
// wall-clock timestamps all read a Clock, so a test can simulate time and the
// harness can skew one node's clock (POST /debug/clock) without privileges:
// containers share the host's wall clock, and libfaketime does not reach Go.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	// Now is this node's idea of the current time (possibly skewed).
	Now() time.Time
}

// Skewable is a real clock with an adjustable offset.
type Skewable struct {
	mu     sync.Mutex
	offset time.Duration
}

// NewReal returns a real clock with zero offset.
func NewReal() *Skewable { return &Skewable{} }

// Now returns the wall time plus the offset. Add moves the monotonic reading
// too, so a duration measured across a SetOffset includes the change: that
// is the point (a skewed node's leases and timers see the jump).
func (c *Skewable) Now() time.Time {
	c.mu.Lock()
	off := c.offset
	c.mu.Unlock()
	return time.Now().Add(off)
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

// Sim is a manual clock for deterministic tests.
type Sim struct {
	mu  sync.Mutex
	now time.Time
}

// NewSim returns a simulated clock starting at start.
func NewSim(start time.Time) *Sim { return &Sim{now: start} }

// Now returns the simulated time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves simulated time forward.
func (s *Sim) Advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}
