package kv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

func TestCommandRoundTrip(t *testing.T) {
	c, err := decodeCommand(EncodePut("k", "v"))
	require.NoError(t, err)
	assert.Equal(t, command{op: opPut, key: "k", value: "v"}, c)

	c, err = decodeCommand(EncodeCAS("", "from", "to\x00x"))
	require.NoError(t, err)
	assert.Equal(t, command{op: opCAS, key: "", value: "from", to: "to\x00x"}, c)

	for _, bad := range [][]byte{nil, {9}, EncodePut("k", "v")[:3], append(EncodePut("k", "v"), 0)} {
		_, err := decodeCommand(bad)
		assert.Error(t, err, "%x", bad)
	}
}

func TestApply(t *testing.T) {
	f := NewFSM()
	assert.Nil(t, f.Apply(1, EncodePut("a", "1")))
	assert.Equal(t, api.CASResult{OK: false, Current: "", Found: false}, f.Apply(2, EncodeCAS("b", "", "x")))
	assert.Equal(t, api.CASResult{OK: false, Current: "1", Found: true}, f.Apply(3, EncodeCAS("a", "2", "3")))
	assert.Equal(t, api.CASResult{OK: true}, f.Apply(4, EncodeCAS("a", "1", "3")))
	res := f.Apply(5, []byte{42})
	assert.Error(t, res.(error))
	v, ok := f.Get("a")
	assert.True(t, ok)
	assert.Equal(t, "3", v)
	_, ok = f.Get("b")
	assert.False(t, ok)
	assert.Equal(t, uint64(5), f.Index())
}

func TestSnapshotRestoreKeepsDigest(t *testing.T) {
	f := NewFSM()
	for i := range 100 {
		f.Apply(uint64(i+1), EncodePut(fmt.Sprintf("k%d", i%37), fmt.Sprintf("v%d", i)))
	}
	snap, err := f.Snapshot()
	require.NoError(t, err)
	g := NewFSM()
	g.Apply(1, EncodePut("junk", "x"))
	require.NoError(t, g.Restore(snap))
	d1, i1, n1, v1 := f.Digest(true)
	d2, i2, n2, v2 := g.Digest(true)
	assert.Equal(t, d1, d2)
	assert.Equal(t, uint64(100), i1)
	assert.Equal(t, i1, i2)
	assert.Equal(t, 37, n1)
	assert.Equal(t, n1, n2)
	assert.Equal(t, v1, v2)
	assert.Equal(t, ValueHash("v99"), v1["k25"])

	// Equal bytes for equal states, whatever the insertion order.
	snap2, err := g.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, snap, snap2)

	for _, bad := range [][]byte{nil, {2}, snap[:len(snap)-1], append(snap, 1)} {
		assert.Error(t, NewFSM().Restore(bad))
	}
}

func TestDigestDistinguishes(t *testing.T) {
	a, b := NewFSM(), NewFSM()
	a.Apply(1, EncodePut("k", "v"))
	b.Apply(1, EncodePut("k", "w"))
	da, _, _, _ := a.Digest(false)
	db, _, _, _ := b.Digest(false)
	assert.NotEqual(t, da, db)

	// Same state, different applied index: different digests.
	c := NewFSM()
	c.Apply(2, EncodePut("k", "v"))
	dc, _, _, _ := c.Digest(false)
	assert.NotEqual(t, da, dc)

	// Length-prefixing: "ab"+"c" differs from "a"+"bc".
	x, y := NewFSM(), NewFSM()
	x.Apply(1, EncodePut("ab", "c"))
	y.Apply(1, EncodePut("a", "bc"))
	dx, _, _, _ := x.Digest(false)
	dy, _, _, _ := y.Digest(false)
	assert.NotEqual(t, dx, dy)
}
