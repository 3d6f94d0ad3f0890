// Package wire is the client side of Gauntlet's KV wire protocol, version 2
// (docs/protocol.md): the HTTP/JSON API that kvnode speaks and that any
// system, in any language, can serve to be tested with --system exec:FILE
// and no Go at all. It maps every answer to ok, fail (certainly not applied)
// or info (may have happened). Version 2 adds transactions (POST /txn,
// txn.go); a version 1 system serves everything else unchanged.
package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// Version is the protocol version this package speaks; it speaks every
// version from 1 on.
const Version = 2

// NewClient returns a client of the node at addr; timeout bounds each
// request (the harness bounds each op as well).
func NewClient(node, addr string, timeout time.Duration) *Client {
	return &Client{node: node, c: client.New(addr, timeout)}
}

// Status is GET /debug/status.
func Status(ctx context.Context, addr string, timeout time.Duration) (harness.NodeStatus, error) {
	c := client.New(addr, timeout)
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return harness.NodeStatus{}, fmt.Errorf("status of %s: %w", addr, err)
	}
	return harness.NodeStatus{ID: st.ID, Role: st.Role, Term: st.Term, Leader: st.Leader,
		Commit: st.Commit, Applied: st.Applied}, nil
}

// Digest is GET /debug/digest?values=true.
func Digest(ctx context.Context, addr string, timeout time.Duration) (harness.Digest, error) {
	c := client.New(addr, timeout)
	defer c.Close()
	d, err := c.Digest(ctx)
	if err != nil {
		return harness.Digest{}, fmt.Errorf("digest of %s: %w", addr, err)
	}
	return harness.Digest{Node: d.ID, Digest: d.Digest, Applied: d.Applied, Keys: d.Keys, Values: d.Values}, nil
}

// SetClock is POST /debug/clock.
func SetClock(ctx context.Context, addr string, offset, timeout time.Duration) error {
	c := client.New(addr, timeout)
	defer c.Close()
	if err := c.SetClock(ctx, offset); err != nil {
		return fmt.Errorf("set clock of %s to %s: %w", addr, offset, err)
	}
	return nil
}

// Client is one worker's connection to one node. It decides ok/fail/info
// from kvnode's error classification (api.ErrNotApplied: certainly not
// applied; anything else: unknown).
type Client struct {
	node string
	c    *client.Client
	// Locks (lock.go): the lease asked for, and those held.
	lockTTL time.Duration
	leases  map[string]lease
}

// Invoke performs a read, write or cas.
//
//   - read: ok with the value (nil when absent); fail on any error, since a
//     read changes nothing.
//   - write: ok; fail on ErrNotApplied; info on ErrUnknown or when ctx ended
//     (the request may have been sent).
//   - cas (From -> Value): ok; fail on a mismatch (it certainly did not
//     apply) or ErrNotApplied; info otherwise.
func (c *Client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	op.Node = c.node
	if op.Kind != "" {
		return c.setCounter(ctx, op) // setctr.go
	}
	switch op.F {
	case harness.FRead:
		v, found, err := c.c.Get(ctx, op.Key, false)
		if err != nil {
			return failed(op, err)
		}
		done := op.Complete(harness.OK)
		done.Value = nil
		if found {
			done.Value = harness.Str(v)
		}
		return done
	case harness.FWrite:
		if op.Value == nil {
			return refused(op, "write without a value")
		}
		return mutated(ctx, op, c.c.Put(ctx, op.Key, *op.Value))
	case harness.FCAS:
		if op.From == nil || op.Value == nil {
			return refused(op, "cas needs from and value")
		}
		res, err := c.c.CAS(ctx, op.Key, *op.From, *op.Value)
		if err != nil {
			return mutated(ctx, op, err)
		}
		if !res.OK {
			done := op.Complete(harness.Fail)
			if res.Found {
				done.Error = "mismatch: found " + res.Current
			} else {
				done.Error = "mismatch: key absent"
			}
			return done
		}
		return op.Complete(harness.OK)
	case harness.FTxn:
		return c.txn(ctx, op)
	case harness.FAcquire, harness.FRelease, mutex.FHold:
		return c.lock(ctx, op) // lock.go
	default:
		return refused(op, "unsupported operation "+op.F)
	}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.c.Close()
	return nil
}

// refused is an op the client never sent.
func refused(op harness.Op, why string) harness.Op {
	done := op.Complete(harness.Fail)
	done.Error = why
	return done
}

func failed(op harness.Op, err error) harness.Op {
	done := op.Complete(harness.Fail)
	done.Error = err.Error()
	return done
}

// mutated classifies the outcome of a write or cas.
func mutated(ctx context.Context, op harness.Op, err error) harness.Op {
	if err == nil {
		return op.Complete(harness.OK)
	}
	t := harness.Info
	// A cancelled context makes the outcome unknowable even if the client
	// says "not applied" (it may have raced the send); only a definite
	// refusal with a live context is a fail.
	if errors.Is(err, api.ErrNotApplied) && ctx.Err() == nil {
		t = harness.Fail
	}
	done := op.Complete(t)
	done.Error = err.Error()
	return done
}
