package etcd

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/guard"
)

func TestPrefixEnd(t *testing.T) { assert.Equal(t, "lock/x0", prefixEnd("lock/x/")) }

func lockOp(f, key string, v *string) harness.Op {
	return harness.Op{Type: harness.Invoke, F: f, Key: key, Value: v}
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestRealLock: etcd's mutex through the gateway on a real member: one
// holder at a time, waiters queue and give up cleanly, tokens grow, and
// guarded work is refused once the lease is gone.
func TestRealLock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, addr, _ := realMember(t, ctx)
	assert.Contains(t, s.Features(), harness.FeatureLock)
	a, b := newClient("n1", addr, 0, false), newClient("n1", addr, 0, false)
	defer a.Close()
	defer b.Close()

	got := a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	require.NotNil(t, got.Value)
	tokA, err := strconv.ParseInt(*got.Value, 10, 64)
	require.NoError(t, err)
	assert.Equal(t, "n1", got.Node)

	// b waits behind a, gives up at its deadline, and leaves no key.
	w := b.Invoke(within(t, 500*time.Millisecond), lockOp(harness.FAcquire, "L", nil))
	assert.Equal(t, harness.Fail, w.Type, w.Error)
	assert.Contains(t, w.Error, "its key deleted")

	h := a.Invoke(ctx, lockOp(guard.FHold, "L", harness.Str("50")))
	assert.Equal(t, harness.OK, h.Type, h.Error)
	h = a.Invoke(ctx, lockOp(guard.FHold, "L", harness.Str("10000")))
	assert.Equal(t, harness.Fail, h.Type, "work longer than the lease is refused")
	assert.Contains(t, h.Error, "did none")

	// b queues; a releases; b holds with a larger token.
	bdone := make(chan harness.Op, 1)
	go func() { bdone <- b.Invoke(ctx, lockOp(harness.FAcquire, "L", nil)) }()
	time.Sleep(200 * time.Millisecond)
	select {
	case op := <-bdone:
		t.Fatalf("b acquired while a held the lock: %v", op)
	default:
	}
	r := a.Invoke(ctx, lockOp(harness.FRelease, "L", nil))
	require.Equal(t, harness.OK, r.Type, r.Error)
	got = <-bdone
	require.Equal(t, harness.OK, got.Type, got.Error)
	tokB, _ := strconv.ParseInt(*got.Value, 10, 64)
	assert.Greater(t, tokB, tokA)

	r = a.Invoke(ctx, lockOp(harness.FRelease, "L", nil))
	assert.Equal(t, harness.Fail, r.Type, "a holds nothing now")

	// The lease revoked behind b's back: its keepalive learns it, its work
	// is refused, and a takes the lock.
	c := b
	require.NoError(t, c.g.call(ctx, "/v3/lease/revoke", map[string]any{"ID": strconv.FormatInt(c.locks.sess.id, 10)}, nil))
	got = a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	require.Eventually(t, func() bool {
		return b.Invoke(ctx, lockOp(guard.FHold, "L", harness.Str("10"))).Type == harness.Fail
	}, 5*time.Second, 100*time.Millisecond)
}

// TestRealLockAbandonedGrant: a worker that gave up releasing acquires
// again: the client starts a fresh session, whose key waits for the old
// one (revoked in the background) and gets a token of its own.
func TestRealLockAbandonedGrant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, addr, _ := realMember(t, ctx)
	a := newClient("n1", addr, 0, false)
	defer a.Close()
	got := a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	first := *got.Value
	got = a.Invoke(ctx, lockOp(harness.FAcquire, "L", nil))
	require.Equal(t, harness.OK, got.Type, got.Error)
	assert.NotEqual(t, first, *got.Value, "a new grant, a new token")
	r := a.Invoke(ctx, lockOp(harness.FRelease, "L", nil))
	assert.Equal(t, harness.OK, r.Type, r.Error)
}
