package bank

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gauntlet-dev/gauntlet/harness"
)

type hist struct{ h harness.History }

func (b *hist) txn(p int, t harness.Type, mops ...harness.Mop) *hist {
	inv := harness.Op{Index: len(b.h), Process: harness.Process(p), Type: harness.Invoke, F: harness.FTxn, Txn: mops, Time: int64(len(b.h)) * 1e7}
	b.h = append(b.h, inv)
	c := inv.Complete(t)
	c.Index, c.Time = len(b.h), int64(len(b.h))*1e7
	b.h = append(b.h, c)
	return b
}

func wr(k string, v int) harness.Mop {
	return harness.Mop{F: harness.MWrite, Key: k, Value: harness.Str(strconv.Itoa(v))}
}
func add(k string, v int) harness.Mop {
	return harness.Mop{F: harness.MAdd, Key: k, Value: harness.Str(strconv.Itoa(v))}
}
func rd(k string, v int) harness.Mop {
	return harness.Mop{F: harness.MRead, Key: k, Value: harness.Str(strconv.Itoa(v))}
}
func rnil(k string) harness.Mop { return harness.Mop{F: harness.MRead, Key: k} }

var accounts = []string{"a", "b", "c"}

func check(o Options, h harness.History) harness.Result {
	return New(o).Check(context.Background(), harness.CheckInput{History: h})
}

func TestBank(t *testing.T) {
	base := func() *hist {
		return (&hist{}).
			txn(0, harness.OK, rnil("a"), rnil("b"), rnil("c")). // before the balances: fine
			txn(1, harness.Info, wr("a", 10), wr("b", 10), wr("c", 10)).
			txn(2, harness.OK, wr("a", 10), wr("b", 10), wr("c", 10)).
			txn(0, harness.OK, add("a", -5), add("b", 5)).
			txn(3, harness.Fail, add("c", -50), add("a", 50)).
			txn(0, harness.OK, rd("a", 5), rd("b", 15), rd("c", 10))
	}
	for _, c := range []struct {
		name  string
		o     Options
		h     *hist
		want  harness.Validity
		words []string
	}{
		{"valid", Options{Accounts: accounts, Total: 30}, base(), harness.Valid, []string{"all saw the total 30"}},
		{"total from the initial write", Options{}, base(), harness.Valid, []string{"3 accounts"}},
		{"wrong total", Options{Accounts: accounts, Total: 30}, base().txn(1, harness.OK, rd("a", 5), rd("b", 10), rd("c", 10)),
			harness.Invalid, []string{"total 25, but the total is 30 (5 missing)", "a=5 b=10 c=10", "the only read with a wrong total"}},
		{"negative", Options{Accounts: accounts, Total: 30}, base().txn(1, harness.OK, rd("a", -5), rd("b", 25), rd("c", 10)),
			harness.Invalid, []string{"negative balance (a = -5)"}},
		{"negative allowed", Options{Accounts: accounts, Total: 30, AllowNegative: true}, base().txn(1, harness.OK, rd("a", -5), rd("b", 25), rd("c", 10)),
			harness.Valid, nil},
		{"part of a transaction", Options{Accounts: accounts, Total: 30}, base().txn(1, harness.OK, rd("a", 5), rnil("b"), rd("c", 10)),
			harness.Invalid, []string{"b absent: the read saw part of a transaction"}},
		{"balances lost", Options{Accounts: accounts, Total: 30}, base().txn(1, harness.OK, rnil("a"), rnil("b"), rnil("c")),
			harness.Invalid, []string{"every account absent"}},
		{"bad micro-op", Options{Accounts: accounts, Total: 30}, base().txn(1, harness.OK, harness.Mop{F: harness.MAppend, Key: "a", Value: harness.Str("1")}),
			harness.Unknown, []string{"only w (initial balances), add (transfers) and r (reads)"}},
		{"no read", Options{Accounts: accounts, Total: 30}, (&hist{}).txn(0, harness.OK, wr("a", 30), wr("b", 0), wr("c", 0)), harness.Unknown, []string{"nothing to judge"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := check(c.o, c.h.h)
			assert.Equal(t, c.want, res.Validity, res.Summary)
			text := res.Summary
			for _, a := range res.Anomalies {
				text += "\n" + a.Explanation
			}
			for _, w := range c.words {
				assert.Contains(t, text, w)
			}
			if testing.Verbose() {
				t.Log(text)
			}
		})
	}
}
