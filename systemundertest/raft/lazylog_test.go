package raft

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ents(lo, hi uint64) []Entry {
	var out []Entry
	for i := lo; i <= hi; i++ {
		out = append(out, Entry{Index: i, Term: 1, Data: []byte{byte(i)}})
	}
	return out
}

// The ack-before-fsync bug's log acknowledges appends it has not written:
// until the interval passes, the real log holds nothing of them.
func TestLazyLogHoldsAppendsUntilDue(t *testing.T) {
	under := NewInmemLog()
	t0 := time.Unix(100, 0)
	l := &lazyLog{under: under, last: t0}
	require.NoError(t, l.Append(ents(1, 3)))
	last, _ := l.LastIndex()
	assert.EqualValues(t, 3, last, "the node sees its appends")
	first, _ := l.FirstIndex()
	assert.EqualValues(t, 1, first)
	ul, _ := under.LastIndex()
	assert.Zero(t, ul, "nothing written yet: SIGKILL now loses entries 1-3")

	require.NoError(t, l.flushDue(t0.Add(lazyFlushInterval/2)))
	ul, _ = under.LastIndex()
	assert.Zero(t, ul, "not due yet")
	require.NoError(t, l.flushDue(t0.Add(lazyFlushInterval)))
	ul, _ = under.LastIndex()
	assert.EqualValues(t, 3, ul, "written once due")

	// A truncation inside the buffer stays there; one reaching the written
	// part truncates the real log too.
	require.NoError(t, l.Append(ents(4, 6)))
	require.NoError(t, l.TruncateSuffix(5))
	last, _ = l.LastIndex()
	assert.EqualValues(t, 4, last)
	ul, _ = under.LastIndex()
	assert.EqualValues(t, 3, ul)
	require.NoError(t, l.TruncateSuffix(3))
	last, _ = l.LastIndex()
	assert.EqualValues(t, 2, last)
	require.NoError(t, l.Append(ents(3, 4)))
	got, err := l.Entries(1, 5) // reads flush first
	require.NoError(t, err)
	assert.Len(t, got, 4)
	ul, _ = under.LastIndex()
	assert.EqualValues(t, 4, ul)
}
