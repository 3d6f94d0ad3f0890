// Package api is kvnode's HTTP/JSON face, shared by the raft and quorum modes:
// the client API the harness builds on and the debug API it inspects.
//
// Error classification (the harness's correctness depends on it):
//
//   - ErrNotApplied (HTTP 503): the request certainly did not take effect —
//     no leader known, the request was refused before it was proposed or
//     sent to any replica, the node is shutting down before proposing.
//   - ErrUnknown (HTTP 504): the request may have taken effect — it timed out
//     after being proposed or sent, the leader lost leadership mid-request,
//     a forward to the leader failed after the request was sent.
//
// A read that fails either way changed nothing, so the harness may count a
// failed read as "fail"; a write or cas with ErrUnknown must be "info".
package api

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors; wrap them with fmt.Errorf("...: %w", ErrUnknown).
var (
	ErrNotApplied = errors.New("certainly not applied")
	ErrUnknown    = errors.New("outcome unknown")
)

// CASResult is the outcome of a compare-and-set that was decided.
type CASResult struct {
	OK      bool   // swapped
	Current string // the value found, when !OK
	Found   bool   // whether the key existed, when !OK
}

// Status is GET /debug/status.
type Status struct {
	ID          string `json:"id"`
	Mode        string `json:"mode"` // raft | quorum
	Role        string `json:"role"` // leader | follower | candidate | replica
	Term        uint64 `json:"term"`
	Leader      string `json:"leader"`
	Commit      uint64 `json:"commit"`
	Applied     uint64 `json:"applied"`
	ClockOffset int64  `json:"clock_offset_ms"`
	Bug         string `json:"bug,omitempty"`
}

// Digest is GET /debug/digest: a hash over the applied key/value state.
type Digest struct {
	ID      string `json:"id"`
	Digest  string `json:"digest"`
	Applied uint64 `json:"applied"`
	Keys    int    `json:"keys"`
	// Values maps key -> a hash of what this node holds for it. Set when the
	// request asks ?values=true; quorum mode needs it because replicas hold
	// different key sets, so whole-node digests differ by design.
	Values map[string]string `json:"values,omitempty"`
}

// Store is what a mode implements; the HTTP server is the same for both.
// Errors must wrap ErrNotApplied or ErrUnknown (anything else is treated as
// ErrUnknown for writes and cas).
type Store interface {
	// Get reads key; stale=true allows a local, possibly stale, read.
	Get(ctx context.Context, key string, stale bool) (value string, found bool, err error)
	Put(ctx context.Context, key, value string) error
	// CAS sets key to to if its current value is from (an absent key never matches).
	CAS(ctx context.Context, key, from, to string) (CASResult, error)
	Status() Status
	// Digest hashes the state; withValues also fills Digest.Values.
	Digest(withValues bool) Digest
	Close() error
}

// Classify returns ErrNotApplied or ErrUnknown for err (nil for nil).
func Classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotApplied):
		return ErrNotApplied
	default:
		return ErrUnknown
	}
}

// NotApplied wraps a reason as ErrNotApplied.
func NotApplied(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotApplied)
}

// Unknown wraps a reason as ErrUnknown.
func Unknown(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrUnknown)
}
