package isolation

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// hist builds histories by hand: invocations and completions in the order
// they happened, 10 ms apart.
type hist struct {
	h    harness.History
	open map[int]harness.Op
}

func newHist() *hist { return &hist{open: map[int]harness.Op{}} }

func (b *hist) push(op harness.Op) {
	op.Index = len(b.h)
	op.Time = int64(len(b.h)) * 10e6
	b.h = append(b.h, op)
}

// inv invokes a transaction on process p (reads carry nothing).
func (b *hist) inv(p int, mops ...harness.Mop) *hist {
	in := make([]harness.Mop, len(mops))
	for i, m := range mops {
		in[i] = m
		if m.F == harness.MRead {
			in[i].Value, in[i].List = nil, nil
		}
	}
	op := harness.Op{Process: harness.Process(p), Type: harness.Invoke, F: harness.FTxn, Txn: in}
	b.open[p] = op
	b.push(op)
	return b
}

// ok completes process p's transaction with what its reads returned.
func (b *hist) done(p int, t harness.Type, mops ...harness.Mop) *hist {
	op := b.open[p].Complete(t)
	if t == harness.OK {
		op.Txn = mops
	}
	delete(b.open, p)
	b.push(op)
	return b
}

func (b *hist) ok(p int, mops ...harness.Mop) *hist { return b.done(p, harness.OK, mops...) }

// txn is a transaction invoked and completed at once.
func (b *hist) txn(p int, t harness.Type, mops ...harness.Mop) *hist {
	return b.inv(p, mops...).done(p, t, mops...)
}

func app(k, v string) harness.Mop {
	return harness.Mop{F: harness.MAppend, Key: k, Value: harness.Str(v)}
}
func rl(k string, vs ...string) harness.Mop {
	return harness.Mop{F: harness.MRead, Key: k, List: append([]string{}, vs...)}
}
func w(k, v string) harness.Mop { return harness.Mop{F: harness.MWrite, Key: k, Value: harness.Str(v)} }
func r(k, v string) harness.Mop { return harness.Mop{F: harness.MRead, Key: k, Value: harness.Str(v)} }
func rnil(k string) harness.Mop { return harness.Mop{F: harness.MRead, Key: k} }

func check(t *testing.T, m Model, consistency string, h harness.History) (harness.Result, Details) {
	t.Helper()
	res := New(Options{Model: m, Consistency: consistency}).Check(context.Background(), harness.CheckInput{History: h})
	var d Details
	if len(res.Details) > 0 {
		require.NoError(t, json.Unmarshal(res.Details, &d))
	}
	return res, d
}
