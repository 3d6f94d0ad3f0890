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

func kindOp(kind, f, key string, v *string) harness.Op {
	return harness.Op{Type: harness.Invoke, Kind: kind, F: f, Key: key, Value: v}
}

// TestRealSetCounter: sets and counters on a real member, with counter
// adds racing from several clients.
func TestRealSetCounter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, addr, _ := realMember(t, ctx)
	assert.Subset(t, s.Features(), []harness.Feature{harness.FeatureSet, harness.FeatureCounter})
	c := newClient("n1", addr, 0, false)
	defer c.Close()

	r := c.Invoke(ctx, kindOp(harness.KindSet, harness.FRead, "s0", nil))
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.Equal(t, "[]", *r.Value, "an empty set reads as an empty array")
	for _, e := range []string{"3", "1", "2"} {
		a := c.Invoke(ctx, kindOp(harness.KindSet, harness.FAdd, "s0", harness.Str(e)))
		require.Equal(t, harness.OK, a.Type, a.Error)
	}
	require.Equal(t, harness.OK, c.Invoke(ctx, kindOp(harness.KindSet, harness.FAdd, "s01", harness.Str("9"))).Type)
	r = c.Invoke(ctx, kindOp(harness.KindSet, harness.FRead, "s0", nil))
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.JSONEq(t, `["1","2","3"]`, *r.Value, "the set's elements, and not those of s01")

	r = c.Invoke(ctx, kindOp(harness.KindCounter, harness.FRead, "c0", nil))
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.Equal(t, "0", *r.Value, "an absent counter reads 0")
	var wg sync.WaitGroup
	var mu sync.Mutex
	sum := 0
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := newClient("n1", addr, 0, false)
			defer cl.Close()
			for i := range 10 {
				d := 1 + (g+i)%5
				if i%5 == 4 {
					d = -d
				}
				a := cl.Invoke(ctx, kindOp(harness.KindCounter, harness.FAdd, "c0", harness.Str(strconv.Itoa(d))))
				if a.Type == harness.OK {
					mu.Lock()
					sum += d
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	r = c.Invoke(ctx, kindOp(harness.KindCounter, harness.FRead, "c0", nil))
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.Equal(t, strconv.Itoa(sum), *r.Value, "every acknowledged add counted once, negative ones too")

	ser := newClient("n1", addr, 0, true)
	defer ser.Close()
	r = ser.Invoke(ctx, kindOp(harness.KindSet, harness.FRead, "s0", nil))
	require.Equal(t, harness.OK, r.Type, r.Error)
	assert.Equal(t, StaleByDesign, r.Error)
}
