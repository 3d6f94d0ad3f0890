package isolation

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// One hand-built history for each anomaly class, and valid ones beside
// them: the class found, the weakest model ruled out, the explanation.
type classCase struct {
	name    string
	model   Model
	h       *hist
	class   string // "" for a valid history
	weakest string // the weakest model ruled out
	words   []string
}

func classCases() []classCase {
	var cs []classCase
	add := func(name string, m Model, class, weakest string, h *hist, words ...string) {
		cs = append(cs, classCase{name: name, model: m, h: h, class: class, weakest: weakest, words: words})
	}
	// Concurrent: every transaction invoked, then every one completed.
	conc := func(txns ...[]harness.Mop) *hist {
		b := newHist()
		for p, t := range txns {
			b.inv(p, t...)
		}
		for p, t := range txns {
			b.ok(p, t...)
		}
		return b
	}
	LA, RW := ListAppend, RWRegister

	add("valid serial appends", LA, "", "", newHist().
		txn(0, harness.OK, app("x", "1")).
		txn(1, harness.OK, rl("x", "1"), app("x", "2")).
		txn(0, harness.OK, rl("x", "1", "2"), rl("y")))
	add("valid concurrent appends", LA, "", "", conc(
		[]harness.Mop{app("x", "1"), rl("x", "1")},
		[]harness.Mop{app("x", "2"), rl("x", "1", "2")},
	))
	add("info append read: it committed", LA, "", "", newHist().
		inv(0, app("x", "1")).done(0, harness.Info).
		txn(1, harness.OK, rl("x", "1")))
	add("info append never read", LA, "", "", newHist().
		inv(0, app("x", "1")).done(0, harness.Info).
		txn(1, harness.OK, rl("x")))
	add("G0 write cycle", LA, "G0", ReadUncommitted, conc(
		[]harness.Mop{app("x", "1"), app("y", "1")},
		[]harness.Mop{app("x", "2"), app("y", "2")},
	).txn(2, harness.OK, rl("x", "1", "2"), rl("y", "2", "1")), "appended 1 to x before", "dirty write")
	add("G1a aborted read", LA, "G1a", ReadCommitted, newHist().
		txn(0, harness.Fail, app("x", "1")).
		txn(1, harness.OK, rl("x", "1")), "which failed")
	add("G1b intermediate read", LA, "G1b", ReadCommitted, conc(
		[]harness.Mop{app("x", "1"), app("x", "2")},
		[]harness.Mop{rl("x", "1")},
	), "overwrote")
	add("G1c circular information flow", LA, "G1c", ReadCommitted, conc(
		[]harness.Mop{app("x", "1"), rl("y", "1")},
		[]harness.Mop{app("y", "1"), rl("x", "1")},
	), "whose last element")
	add("G-single read skew", LA, "G-single", SnapshotIsolation, conc(
		[]harness.Mop{app("x", "1"), app("y", "1")},
		[]harness.Mop{rl("x"), rl("y", "1")},
	), "which lacks T1's append of 1", "(rw)")
	add("G-nonadjacent", LA, "G-nonadjacent", SnapshotIsolation, conc(
		[]harness.Mop{rl("a"), rl("d", "1")},
		[]harness.Mop{app("a", "1"), app("b", "1")},
		[]harness.Mop{rl("b", "1"), rl("c")},
		[]harness.Mop{app("c", "1"), app("d", "1")},
	))
	add("G2-item write skew", LA, "G2-item", Serializable, conc(
		[]harness.Mop{rl("x"), rl("y"), app("x", "1")},
		[]harness.Mop{rl("x"), rl("y"), app("y", "1")},
	).txn(2, harness.OK, rl("x", "1"), rl("y", "1")), "write skew")
	add("lost update", LA, "lost-update", SnapshotIsolation, conc(
		[]harness.Mop{rl("x"), app("x", "1")},
		[]harness.Mop{rl("x"), app("x", "2")},
	).txn(2, harness.OK, rl("x", "1", "2")), "both read x = [] and then wrote x")
	add("lost update, appends never read", LA, "lost-update", SnapshotIsolation, conc(
		[]harness.Mop{rl("x", "7"), app("x", "1")},
		[]harness.Mop{rl("x", "7"), app("x", "2")},
	).txn(2, harness.OK, app("x", "7")))
	add("internal inconsistency", LA, "internal", SnapshotIsolation, newHist().
		txn(0, harness.OK, app("x", "1"), rl("x")), "its own earlier micro-ops left x = [… 1]")
	add("future read", LA, "future-read", ReadCommitted, newHist().
		txn(0, harness.OK, rl("x", "1"), app("x", "1")), "writes only later")
	add("incompatible order", LA, "incompatible-order", ReadCommitted, newHist().
		txn(0, harness.OK, app("x", "1")).txn(1, harness.OK, app("x", "2")).
		txn(2, harness.OK, rl("x", "1", "2")).txn(3, harness.OK, rl("x", "2", "1")), "neither is a prefix")
	add("appends out of their order", LA, "incompatible-order", ReadCommitted, newHist().
		txn(0, harness.OK, app("x", "1"), app("x", "2"), app("x", "3")).
		txn(1, harness.OK, rl("x", "1", "3")), "in that order")
	add("duplicate elements", LA, "duplicate-elements", ReadUncommitted, newHist().
		txn(0, harness.OK, app("x", "1")).txn(1, harness.OK, rl("x", "1", "1")), "appears twice")
	add("unwritten value", LA, "unwritten-value", ReadUncommitted, newHist().
		txn(0, harness.OK, app("x", "1")).txn(1, harness.OK, rl("x", "1", "7")), "no transaction wrote 7")
	add("dirty update", LA, "dirty-update", ReadCommitted, newHist().
		txn(0, harness.Fail, app("x", "1")).txn(1, harness.OK, app("x", "2")).
		txn(2, harness.OK, rl("x", "1", "2")), "which failed")
	add("G-single-process: a process does not see its own write", LA, "G-single-process", StrongSessionSerializable, newHist().
		txn(0, harness.OK, app("x", "1")).txn(0, harness.OK, rl("x")).
		txn(1, harness.OK, rl("x", "1")), "transactions of process 0")
	add("G-single-realtime: a stale read", LA, "G-single-realtime", StrictSerializable, newHist().
		txn(0, harness.OK, app("x", "1")).txn(1, harness.OK, rl("x")).
		txn(2, harness.OK, rl("x", "1")), "before T2 was invoked")
	add("G1c-process: reading a later write of the own process", LA, "G1c-process", StrongSessionSerializable, newHist().
		inv(0, rl("x")).inv(1, app("y", "1")).ok(0, rl("x", "1")).
		inv(0, app("x", "1")).ok(1, app("y", "1")).ok(0, app("x", "1")))

	add("valid registers", RW, "", "", newHist().
		txn(0, harness.OK, w("x", "1")).
		txn(1, harness.OK, r("x", "1"), w("x", "2")).
		txn(0, harness.OK, r("x", "2"), rnil("y")))
	add("register G1a", RW, "G1a", ReadCommitted, newHist().
		txn(0, harness.Fail, w("x", "1")).txn(1, harness.OK, r("x", "1")))
	add("register G1b", RW, "G1b", ReadCommitted, conc(
		[]harness.Mop{w("x", "1"), w("x", "2")},
		[]harness.Mop{r("x", "1")},
	))
	add("register G1c", RW, "G1c", ReadCommitted, conc(
		[]harness.Mop{w("x", "1"), r("y", "1")},
		[]harness.Mop{w("y", "1"), r("x", "1")},
	))
	add("register G-single", RW, "G-single", SnapshotIsolation, conc(
		[]harness.Mop{rnil("x"), r("y", "1")},
		[]harness.Mop{w("x", "1"), w("y", "1")},
	), "the initial state")
	add("register write skew", RW, "G2-item", Serializable, conc(
		[]harness.Mop{rnil("x"), rnil("y"), w("x", "1")},
		[]harness.Mop{rnil("x"), rnil("y"), w("y", "1")},
	))
	add("register lost update", RW, "lost-update", SnapshotIsolation, conc(
		[]harness.Mop{r("x", "0"), w("x", "1")},
		[]harness.Mop{r("x", "0"), w("x", "2")},
	).txn(2, harness.OK, w("x", "0")))
	add("register internal", RW, "internal", SnapshotIsolation, newHist().
		txn(1, harness.OK, w("x", "2")).txn(0, harness.OK, w("x", "1"), r("x", "2")))
	add("register unwritten", RW, "unwritten-value", ReadUncommitted, newHist().
		txn(0, harness.OK, r("x", "9")))
	add("register cyclic versions", RW, "cyclic-versions", ReadCommitted, conc(
		[]harness.Mop{r("x", "1"), w("x", "2")},
		[]harness.Mop{r("x", "2"), w("x", "1")},
	))
	add("register G0 through read-then-write orders", RW, "G0", ReadCommitted, conc(
		[]harness.Mop{w("x", "1"), r("y", "2"), w("y", "3")},
		[]harness.Mop{w("y", "2"), r("x", "1"), w("x", "4")},
	), "holds from read committed up")
	return cs
}

func TestAnomalyClasses(t *testing.T) {
	for _, c := range classCases() {
		t.Run(c.name, func(t *testing.T) {
			res, d := check(t, c.model, "", c.h.h)
			if c.class == "" {
				assert.Equal(t, harness.Valid, res.Validity, res.Summary)
				assert.Empty(t, d.RuledOut)
				assert.Equal(t, Models(), d.MaySatisfy)
				return
			}
			require.Equal(t, harness.Invalid, res.Validity, res.Summary)
			assert.Contains(t, d.Counts, c.class, res.Summary)
			require.NotEmpty(t, d.RuledOut)
			assert.Equal(t, c.weakest, d.RuledOut[0], res.Summary)
			var all []string
			for _, a := range res.Anomalies {
				all = append(all, a.Explanation)
				assert.NotEmpty(t, a.Ops)
				assert.Empty(t, a.Key, "no key: the report would draw a register's linearization")
			}
			text := strings.Join(all, "\n")
			assert.Contains(t, text, c.class+" (")
			for _, w := range c.words {
				assert.Contains(t, text, w)
			}
			if testing.Verbose() {
				t.Log(res.Summary + "\n" + text)
			}
		})
	}
}

// The verdict is against the promised model: write skew is fine under
// snapshot isolation, not under serializable.
func TestConsistencyOption(t *testing.T) {
	var skew classCase
	for _, c := range classCases() {
		if c.class == "G2-item" && c.model == ListAppend {
			skew = c
		}
	}
	for model, want := range map[string]harness.Validity{
		ReadCommitted: harness.Valid, SnapshotIsolation: harness.Valid, Serializable: harness.Invalid,
		StrictSerializable: harness.Invalid, "": harness.Invalid,
	} {
		res, d := check(t, ListAppend, model, skew.h.h)
		assert.Equal(t, want, res.Validity, "%s: %s", model, res.Summary)
		if want == harness.Valid {
			assert.Empty(t, res.Anomalies, "anomalies the promised model allows are not listed")
			assert.Contains(t, d.Counts, "G2-item", "but counted")
			assert.Contains(t, res.Summary, "as promised")
		}
	}
	res, _ := check(t, ListAppend, "linearizable", skew.h.h)
	assert.Equal(t, harness.Unknown, res.Validity)
	assert.Contains(t, res.Summary, "want one of read-uncommitted")
}

func TestBadMicroOps(t *testing.T) {
	for _, c := range []struct {
		model Model
		mop   harness.Mop
		want  string
	}{
		{ListAppend, w("x", "1"), "the list-append model has only append and r"},
		{ListAppend, r("x", "1"), "returns a list"},
		{RWRegister, app("x", "1"), "the rw-register model has only w and r"},
		{RWRegister, rl("x", "1"), "not a list"},
		{RWRegister, harness.Mop{F: harness.MAdd, Key: "x", Value: harness.Str("1")}, "bank"},
	} {
		h := newHist().txn(0, harness.OK, c.mop).h
		res, _ := check(t, c.model, "", h)
		assert.Equal(t, harness.Unknown, res.Validity)
		assert.Contains(t, res.Summary, c.want)
		assert.Regexp(t, `op [01] \(process 0\): micro-op \[`, res.Summary, "the invocation when it shows, else the completion")
	}
}

// A check that runs out of time is unknown, never valid.
func TestTimeout(t *testing.T) {
	h := newHist().txn(0, harness.OK, app("x", "1")).txn(1, harness.OK, rl("x", "1")).h
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := New(Options{Model: ListAppend}).Check(ctx, harness.CheckInput{History: h})
	assert.Equal(t, harness.Unknown, res.Validity, res.Summary)
	assert.Contains(t, res.Summary, "cut short")
	res = New(Options{Model: ListAppend, Timeout: time.Nanosecond}).Check(context.Background(), harness.CheckInput{History: h})
	assert.NotEqual(t, harness.Valid, res.Validity)
}

// A search cut short leaves the models it decides unknown, never valid.
func TestBudgetSpent(t *testing.T) {
	var skew classCase
	for _, c := range classCases() {
		if c.class == "G2-item" && c.model == ListAppend {
			skew = c
		}
	}
	defer func(b int64) { searchBudget = b }(searchBudget)
	searchBudget = 0
	for model, want := range map[string]harness.Validity{
		ReadCommitted: harness.Valid, SnapshotIsolation: harness.Unknown, Serializable: harness.Invalid,
	} {
		res, d := check(t, ListAppend, model, skew.h.h)
		assert.Equal(t, want, res.Validity, "%s: %s", model, res.Summary)
		assert.Equal(t, []string{SnapshotIsolation}, d.Undecided)
		assert.Contains(t, res.Summary, "budget")
	}
}
