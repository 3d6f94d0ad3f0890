package etcd

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func txnOp(mops ...harness.Mop) harness.Op {
	return harness.Op{Type: harness.Invoke, F: harness.FTxn, Txn: mops}
}

func mop(f, k string, v *string) harness.Mop { return harness.Mop{F: f, Key: k, Value: v} }

func listRead(k string) harness.Mop {
	return harness.Mop{F: harness.MRead, Key: k, List: []string{}}
}

// TestRealTxn: list-append, rw-register and bank transactions on a real
// member, including appends racing on one key.
func TestRealTxn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, addr, _ := realMember(t, ctx)
	assert.Equal(t, "strict-serializable", s.Consistency())
	c, err := s.NewClient(harness.NodeAt("n1", addr))
	require.NoError(t, err)
	defer c.Close()

	done := c.Invoke(ctx, txnOp(listRead("x"), mop(harness.MAppend, "x", harness.Str("1")), mop(harness.MAppend, "x", harness.Str("2")), listRead("x")))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, []string{}, done.Txn[0].List)
	assert.Equal(t, []string{"1", "2"}, done.Txn[3].List)
	assert.Equal(t, "n1", done.Node)

	done = c.Invoke(ctx, txnOp(mop(harness.MWrite, "r", harness.Str("5")), mop(harness.MRead, "q", nil)))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Nil(t, done.Txn[1].Value)
	done = c.Invoke(ctx, txnOp(mop(harness.MRead, "r", nil), listRead("x")))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, "5", *done.Txn[0].Value)
	assert.Equal(t, []string{"1", "2"}, done.Txn[1].List)
	assert.Empty(t, done.Error, "a linearizable read carries no note")

	// Bank: an overdraw is refused whole.
	done = c.Invoke(ctx, txnOp(mop(harness.MWrite, "a0", harness.Str("3")), mop(harness.MWrite, "a1", harness.Str("3"))))
	require.Equal(t, harness.OK, done.Type, done.Error)
	done = c.Invoke(ctx, txnOp(mop(harness.MAdd, "a0", harness.Str("-4")), mop(harness.MAdd, "a1", harness.Str("4"))))
	assert.Equal(t, harness.Fail, done.Type)
	assert.Contains(t, done.Error, "below zero")
	done = c.Invoke(ctx, txnOp(mop(harness.MAdd, "a0", harness.Str("-2")), mop(harness.MAdd, "a1", harness.Str("2"))))
	require.Equal(t, harness.OK, done.Type, done.Error)
	done = c.Invoke(ctx, txnOp(mop(harness.MRead, "a0", nil), mop(harness.MRead, "a1", nil)))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, "1", *done.Txn[0].Value)
	assert.Equal(t, "5", *done.Txn[1].Value)

	// Appends racing on one key from several clients: every acknowledged
	// append is in the list exactly once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []string
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := s.NewClient(harness.NodeAt("n1", addr))
			if !assert.NoError(t, err) {
				return
			}
			defer cl.Close()
			for i := range 15 {
				v := strconv.Itoa(100*g + i)
				d := cl.Invoke(ctx, txnOp(mop(harness.MAppend, "hot", harness.Str(v))))
				if d.Type == harness.OK {
					mu.Lock()
					acked = append(acked, v)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	done = c.Invoke(ctx, txnOp(listRead("hot")))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.ElementsMatch(t, acked, done.Txn[0].List)
	assert.NotEmpty(t, acked)

	// Serializable reads carry the note that says they may be stale.
	ser := newClient("n1", addr, 0, true)
	defer ser.Close()
	done = ser.Invoke(ctx, txnOp(listRead("x")))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, StaleByDesign, done.Error)
}

// TestTxnClassification: a commit etcd may have proposed is info; a read
// that failed, or a commit refused before proposal, is fail.
func TestTxnClassification(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   harness.Type
	}{
		{"timeout", 503, `{"code":14,"message":"etcdserver: request timed out"}`, harness.Fail}, // the first call (the read) fails: nothing written
		{"too many requests", 429, `{"code":8,"message":"etcdserver: too many requests"}`, harness.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient("n1", gatewayStub(t, tc.status, tc.body, 0), 0, false)
			defer c.Close()
			d := c.Invoke(context.Background(), txnOp(mop(harness.MAppend, "x", harness.Str("1"))))
			assert.Equal(t, tc.want, d.Type, d.Error)
			assert.NotEmpty(t, d.Error)
		})
	}
	// A blind write reads nothing, so its one call is the commit: a
	// timeout after sending is info.
	c := newClient("n1", gatewayStub(t, 503, `{"code":14,"message":"etcdserver: request timed out"}`, 0), 0, false)
	defer c.Close()
	d := c.Invoke(context.Background(), txnOp(mop(harness.MWrite, "x", harness.Str("1"))))
	assert.Equal(t, harness.Info, d.Type, d.Error)
	c2 := newClient("n1", gatewayStub(t, 429, `{"code":8,"message":"etcdserver: too many requests"}`, 0), 0, false)
	defer c2.Close()
	d = c2.Invoke(context.Background(), txnOp(mop(harness.MWrite, "x", harness.Str("1"))))
	assert.Equal(t, harness.Fail, d.Type, d.Error)
}
