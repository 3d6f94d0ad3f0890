package set

import (
	"context"
	"math/rand"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// Random histories, well formed or not, never make the checker panic, and
// it says the same of one history twice.
func TestRandomHistories(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	values := []string{`[]`, `["1"]`, `["1","2","2"]`, `[3, "4"]`, `{}`, `null`, `[[1]]`, `x`, ``}
	for range 500 {
		var hist h.History
		open := map[h.Process]h.Op{}
		for i := range rng.Intn(60) {
			p := h.Process(rng.Intn(4))
			if inv, ok := open[p]; ok && rng.Intn(2) == 0 {
				c := inv
				c.Index, c.Time = i, int64(i)*1e6
				c.Type = []h.Type{h.OK, h.Fail, h.Info}[rng.Intn(3)]
				if c.F == h.FRead && c.Type == h.OK && rng.Intn(5) > 0 {
					c.Value = h.Str(values[rng.Intn(len(values))])
				}
				hist = append(hist, c)
				delete(open, p)
				continue
			}
			op := h.Op{Index: i, Process: p, Type: h.Invoke, Time: int64(i) * 1e6, Key: []string{"", "a", "b"}[rng.Intn(3)]}
			if rng.Intn(2) == 0 {
				op.F = h.FAdd
				if rng.Intn(10) > 0 {
					op.Value = h.Str(strconv.Itoa(rng.Intn(6)))
				}
			} else {
				op.F = h.FRead
			}
			hist = append(hist, op)
			open[p] = op
		}
		var r1, r2 h.Result
		require.NotPanics(t, func() {
			r1 = Checker{Linearizable: rng.Intn(2) == 0}.Check(context.Background(), h.CheckInput{History: hist})
			r2 = New().Check(context.Background(), h.CheckInput{History: hist})
			New().ValidateHistory(hist)
		}, "%v", hist)
		assert.Contains(t, []h.Validity{h.Valid, h.Invalid, h.Unknown}, r1.Validity)
		r3 := New().Check(context.Background(), h.CheckInput{History: hist})
		assert.Equal(t, r2, r3, "deterministic")
	}
}
