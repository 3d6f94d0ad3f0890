package set

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

func op(i int, p h.Process, t h.Type, f string, v *string) h.Op {
	return h.Op{Index: i, Process: p, Type: t, F: f, Value: v, Time: int64(i) * 1e8}
}

func TestSet(t *testing.T) {
	base := h.History{
		op(0, 0, h.Invoke, "add", h.Str("1")), op(1, 0, h.OK, "add", h.Str("1")),
		op(2, 1, h.Invoke, "add", h.Str("2")), op(3, 1, h.Info, "add", h.Str("2")),
		op(4, 2, h.Invoke, "add", h.Str("3")), op(5, 2, h.Fail, "add", h.Str("3")),
		op(6, 0, h.Invoke, "read", nil),
	}
	good := append(append(h.History{}, base...), op(7, 0, h.OK, "read", h.Str(`["1","2"]`)))
	r := New().Check(context.Background(), h.CheckInput{History: good})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)

	lost := append(append(h.History{}, base...), op(7, 0, h.OK, "read", h.Str(`["2"]`)))
	r = New().Check(context.Background(), h.CheckInput{History: lost})
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Anomalies[0].Explanation, "add of 1 was acknowledged")

	unexpected := append(append(h.History{}, base...), op(7, 0, h.OK, "read", h.Str(`["1","9"]`)))
	r = New().Check(context.Background(), h.CheckInput{History: unexpected})
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Summary, "nobody added")

	r = New().Check(context.Background(), h.CheckInput{History: base})
	assert.Equal(t, h.Unknown, r.Validity)
}
