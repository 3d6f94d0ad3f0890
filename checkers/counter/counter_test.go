package counter

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

func op(i int, p h.Process, t h.Type, f string, v *string) h.Op {
	return h.Op{Index: i, Process: p, Type: t, F: f, Value: v, Time: int64(i) * 1e8}
}

func check(hist h.History) h.Result {
	return New().Check(context.Background(), h.CheckInput{History: hist})
}

func TestCounter(t *testing.T) {
	hist := func(read string) h.History {
		return h.History{
			op(0, 0, h.Invoke, "add", h.Str("5")), op(1, 0, h.OK, "add", h.Str("5")),
			op(2, 1, h.Invoke, "add", h.Str("3")), // overlaps the read, outcome unknown
			op(3, 0, h.Invoke, "read", nil),
			op(4, 0, h.OK, "read", h.Str(read)),
			op(5, 1, h.Info, "add", h.Str("3")),
			op(6, 2, h.Invoke, "add", h.Str("100")), op(7, 2, h.Fail, "add", h.Str("100")),
		}
	}
	for _, v := range []string{"5", "8"} {
		r := check(hist(v))
		assert.Equal(t, h.Valid, r.Validity, "read %s: %s", v, r.Summary)
	}
	for _, v := range []string{"4", "9", "105"} {
		r := check(hist(v))
		require.Equal(t, h.Invalid, r.Validity, "read %s", v)
		assert.Contains(t, r.Anomalies[0].Explanation, "could only have held 5 to 8: 1 adds acknowledged before it began count for certain, 0 in flight and 1 of unknown outcome may or may not")
	}
	r := check(hist("4"))
	assert.Contains(t, r.Anomalies[0].Explanation, "(the last of them: add 5 by process 0, acknowledged at 0.10 s, op 1)")
	assert.Len(t, r.Anomalies[0].Ops, 4)
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	assert.Equal(t, Details{Keys: 1, Reads: 1, Adds: 3, Acknowledged: 1, Unknown: 1, Failed: 1, BadCount: 1,
		Bad: []Bad{{Index: 4, Time: 4e8, Value: 4, Lower: 5, Upper: 8}}}, d)
}

// A negative delta of unknown outcome lowers only the lower bound; a
// retried add applied twice shows as a read above the upper bound.
func TestSignedAndDoubled(t *testing.T) {
	hist := func(read string) h.History {
		return h.History{
			op(0, 0, h.Invoke, "add", h.Str("10")), op(1, 0, h.OK, "add", h.Str("10")),
			op(2, 1, h.Invoke, "add", h.Str("-4")), op(3, 1, h.Info, "add", h.Str("-4")),
			op(4, 0, h.Invoke, "add", h.Str("2")), op(5, 0, h.OK, "add", h.Str("2")),
			op(6, 0, h.Invoke, "read", nil), op(7, 0, h.OK, "read", h.Str(read)),
		}
	}
	for _, v := range []string{"8", "12"} {
		assert.Equal(t, h.Valid, check(hist(v)).Validity, v)
	}
	for _, v := range []string{"7", "13", "14"} {
		r := check(hist(v))
		require.Equal(t, h.Invalid, r.Validity, v)
		assert.Contains(t, r.Anomalies[0].Explanation, "8 to 12")
	}
}

// Each key is a counter of its own; an ok read with no value reads 0.
func TestKeys(t *testing.T) {
	hist := h.History{
		op(0, 0, h.Invoke, "add", h.Str("5")), op(1, 0, h.OK, "add", h.Str("5")),
		op(2, 0, h.Invoke, "read", nil), op(3, 0, h.OK, "read", nil),
		op(4, 0, h.Invoke, "read", h.Str("x")), op(5, 0, h.OK, "read", h.Str("5")),
	}
	hist[0].Key, hist[1].Key = "a", "a"
	hist[2].Key, hist[3].Key = "b", "b"
	hist[4].Key, hist[5].Key = "a", "a"
	r := check(hist)
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	hist[3].Value = h.Str("5")
	hist[3].Node = "n3"
	r = check(hist)
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Anomalies[0].Explanation, "the read of counter b by process 0 at 0.30 s (op 3, on n3) returned 5, but while it was in flight the counter could only have held 0 to 0")
	assert.Equal(t, r, check(hist), "deterministic")
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		hist h.History
		pos  int
		want string
	}{
		{h.History{op(0, 0, h.Invoke, "add", h.Str("x"))}, 0, `op 0 (0 invoke add=x): a counter add's delta must be an integer, got "x"`},
		{h.History{op(0, 0, h.Invoke, "add", nil)}, 0, "needs its delta"},
		{h.History{op(0, 0, h.Invoke, "read", nil), op(1, 0, h.OK, "read", h.Str("1.5"))}, 1, `a counter read must return an integer, got "1.5"`},
		{h.History{op(0, 0, h.Invoke, "cas", nil)}, 0, `"cas" is not an operation of a counter`},
	} {
		e := New().ValidateHistory(c.hist)
		require.NotNil(t, e, c.want)
		assert.Equal(t, c.pos, e.Pos)
		assert.Contains(t, e.Error(), c.want)
		if c.hist[0].F != "cas" {
			r := check(c.hist)
			assert.Equal(t, h.Unknown, r.Validity)
			assert.Contains(t, r.Summary, "cannot be judged")
		}
	}
	assert.Equal(t, h.Unknown, check(nil).Validity)
}
