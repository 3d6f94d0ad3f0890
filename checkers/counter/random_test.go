package counter

import (
	"context"
	"math/rand"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// Random histories, well formed or not, never make the checker panic; it
// says the same of one history twice; and a history of a real counter
// (every ok read the true value at its completion) is valid.
func TestRandomHistories(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := range 500 {
		honest := n%2 == 0
		var hist h.History
		open := map[h.Process]h.Op{}
		vals := map[string]int64{}
		for i := range rng.Intn(80) {
			p := h.Process(rng.Intn(4))
			if inv, ok := open[p]; ok && rng.Intn(2) == 0 {
				c := inv
				c.Index, c.Time = i, int64(i)*1e6
				c.Type = []h.Type{h.OK, h.OK, h.Fail, h.Info}[rng.Intn(4)]
				if honest && c.F == h.FAdd && c.Type == h.Fail {
					c.Type = h.Info // the true counter took it: it may not be called failed
				}
				if c.F == h.FRead && c.Type == h.OK {
					if honest {
						c.Value = h.Str(strconv.FormatInt(vals[c.Key], 10))
					} else {
						c.Value = h.Str([]string{"0", "3", "-2", "x", ""}[rng.Intn(5)])
					}
				}
				hist = append(hist, c)
				delete(open, p)
				continue
			}
			op := h.Op{Index: i, Process: p, Type: h.Invoke, Time: int64(i) * 1e6, Key: []string{"", "a"}[rng.Intn(2)]}
			if rng.Intn(2) == 0 {
				op.F = h.FAdd
				d := int64(rng.Intn(11) - 5)
				op.Value = h.Str(strconv.FormatInt(d, 10))
				if honest {
					vals[op.Key] += d // applied at once, whatever the client hears
				} else if rng.Intn(10) == 0 {
					op.Value = h.Str("y")
				}
			} else {
				op.F = h.FRead
			}
			hist = append(hist, op)
			open[p] = op
		}
		var r1, r2 h.Result
		require.NotPanics(t, func() {
			r1 = New().Check(context.Background(), h.CheckInput{History: hist})
			r2 = New().Check(context.Background(), h.CheckInput{History: hist})
			New().ValidateHistory(hist)
		})
		assert.Equal(t, r1, r2, "deterministic")
		if honest {
			assert.NotEqual(t, h.Invalid, r1.Validity, "%s\n%v", r1.Summary, hist)
		}
	}
}
