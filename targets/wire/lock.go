package wire

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// DefaultLockTTL is the lease a client asks for when acquiring a lock.
const DefaultLockTTL = time.Second

// A careful lock client: it acts as holder only while it can know it is
// one. Its lease starts when it sends the acquire (the node can only grant
// later, so the node's lease ends no sooner than send time + ttl), and it
// does guarded work only if the work ends before send time + ttl/2: the
// half left covers the step from its last guarded op to its release (a
// worker descheduled on a loaded machine) and the difference of the
// clocks' rates. The checker's holds (checkers/mutex)
// are exactly what this client can vouch for.

// lease is what the client knows of a lock it acquired.
type lease struct {
	proc  harness.Process
	token *string
	until time.Time // it acts as holder only before this
}

// WithLockTTL sets the lease this client asks for (0: DefaultLockTTL).
func (c *Client) WithLockTTL(ttl time.Duration) *Client {
	c.lockTTL = ttl
	return c
}

func (c *Client) ttl() time.Duration {
	if c.lockTTL <= 0 {
		return DefaultLockTTL
	}
	return c.lockTTL
}

// owner names a process to the node: each process is its own owner.
func owner(p harness.Process) string { return "p" + p.String() }

// lock performs acquire, hold (guarded work) and release.
//
//   - acquire: ok with the token in Value (none if the node gave none);
//     fail when the lock is held (409) or certainly not applied; info when
//     it may have been granted.
//   - hold: ok once the work (Value ms) is done within the lease; fail
//     without working when the client holds no lease or the work would
//     outlast it; info if the work was cut short or outlived the lease.
//   - release: ok; fail when the node says the process is not the holder
//     (409) or certainly did not apply it; info otherwise.
func (c *Client) lock(ctx context.Context, op harness.Op) harness.Op {
	switch op.F {
	case harness.FAcquire:
		ttl := c.ttl()
		var sent time.Time
		var token *string
		var err error
		dl, ok := ctx.Deadline()
		if !ok {
			dl = time.Now().Add(maxAcquireWait)
		}
		for wait := acquireRetry; ; wait = min(2*wait, maxAcquireRetry) {
			sent = time.Now()
			token, err = c.c.Acquire(ctx, op.Key, owner(op.Process), ttl)
			if !errors.Is(err, api.ErrRefused) || !retry(ctx, dl, wait) {
				break
			}
		}
		if err != nil {
			return lockFailed(ctx, op, err)
		}
		if c.leases == nil {
			c.leases = map[string]lease{}
		}
		c.leases[op.Key] = lease{proc: op.Process, token: token, until: sent.Add(ttl / 2)}
		done := op.Complete(harness.OK)
		done.Value = token
		return done
	case mutex.FHold:
		l, ok := c.leases[op.Key]
		if !ok || l.proc != op.Process {
			return refused(op, "guarded work without a lease on "+op.Key)
		}
		ms := int64(0)
		if op.Value != nil {
			ms, _ = strconv.ParseInt(*op.Value, 10, 64)
		}
		work := time.Duration(ms) * time.Millisecond
		if time.Now().Add(work).After(l.until) {
			return refused(op, "the lease would run out during the work: did none")
		}
		t := time.NewTimer(work)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			done := op.Complete(harness.Info)
			done.Error = "the work was cut short: " + ctx.Err().Error()
			return done
		}
		if time.Now().After(l.until) {
			done := op.Complete(harness.Info)
			done.Error = "the work outlived the lease"
			return done
		}
		return op.Complete(harness.OK)
	default: // release
		l, ok := c.leases[op.Key]
		var token *string
		if ok && l.proc == op.Process {
			token = l.token
		}
		err := c.c.Release(ctx, op.Key, owner(op.Process), token)
		if err == nil || errors.Is(err, api.ErrRefused) {
			delete(c.leases, op.Key) // a release refused for want of the node is tried again with the token
		}
		if err != nil {
			return lockFailed(ctx, op, err)
		}
		return op.Complete(harness.OK)
	}
}

// An acquire of a held lock waits for it, as etcd's and Consul's lock
// calls do: a refused acquire (409) certainly took no effect, so it is
// sent again after a pause (doubling from acquireRetry up to
// maxAcquireRetry) while the op has time left (it gives up acquireSlack
// before its deadline, or after maxAcquireWait without one).
const (
	acquireRetry    = 10 * time.Millisecond
	maxAcquireRetry = 80 * time.Millisecond
	acquireSlack    = 150 * time.Millisecond
	maxAcquireWait  = time.Second
)

// retry waits before another acquire, if the op has time for one before
// dl.
func retry(ctx context.Context, dl time.Time, wait time.Duration) bool {
	if time.Until(dl) < wait+acquireSlack {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// lockFailed: a refusal (409) is a fail, the rest as for a write.
func lockFailed(ctx context.Context, op harness.Op, err error) harness.Op {
	if errors.Is(err, api.ErrRefused) && ctx.Err() == nil {
		return failed(op, err)
	}
	return mutated(ctx, op, err)
}
