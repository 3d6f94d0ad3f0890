package counter

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

func TestCounter(t *testing.T) {
	hist := func(read string) h.History {
		return h.History{
			op(0, 0, h.Invoke, "add", h.Str("5")), op(1, 0, h.OK, "add", h.Str("5")),
			op(2, 1, h.Invoke, "add", h.Str("3")), // overlaps the read
			op(3, 0, h.Invoke, "read", nil),
			op(4, 0, h.OK, "read", h.Str(read)),
			op(5, 1, h.Info, "add", h.Str("3")),
			op(6, 2, h.Invoke, "add", h.Str("100")), op(7, 2, h.Fail, "add", h.Str("100")),
		}
	}
	for _, v := range []string{"5", "8"} {
		r := New().Check(context.Background(), h.CheckInput{History: hist(v)})
		assert.Equal(t, h.Valid, r.Validity, "read %s: %s", v, r.Summary)
	}
	for _, v := range []string{"4", "9", "105"} {
		r := New().Check(context.Background(), h.CheckInput{History: hist(v)})
		require.Equal(t, h.Invalid, r.Validity, "read %s", v)
		assert.Contains(t, r.Anomalies[0].Explanation, "between 5 and 8")
	}
}
