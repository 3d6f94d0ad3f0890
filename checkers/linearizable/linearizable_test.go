package linearizable

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// hist builds histories from events given in time order, times in seconds.
type hist struct{ h h.History }

func (b *hist) add(sec float64, p int, t h.Type, f, key string, v *string) *hist {
	b.h = append(b.h, h.Op{Index: len(b.h), Process: h.Process(p), Type: t, F: f, Key: key, Value: v, Time: int64(sec * 1e9)})
	return b
}

func (b *hist) cas(sec float64, p int, t h.Type, key, from, to string) *hist {
	b.add(sec, p, t, h.FCAS, key, h.Str(to))
	b.h[len(b.h)-1].From = h.Str(from)
	return b
}

func (b *hist) nemesis(sec float64, f, desc string) *hist {
	b.h = append(b.h, h.Op{Index: len(b.h), Process: h.NemesisProcess, Type: h.Info, F: f, Value: h.Str(desc), Time: int64(sec * 1e9)})
	return b
}

var s = h.Str

func run(t *testing.T, hh h.History, opts Options) (h.Result, Details) {
	t.Helper()
	r := Check(context.Background(), hh, opts)
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	return r, d
}

// runDrawn is run with a run directory: the failing keys are drawn, and get
// porcupine's partial linearizations.
func runDrawn(t *testing.T, hh h.History, opts Options) (h.Result, Details) {
	t.Helper()
	r := New(opts).Check(context.Background(), h.CheckInput{History: hh, Dir: t.TempDir()})
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	return r, d
}

func TestLinearizableHistories(t *testing.T) {
	b := &hist{}
	b.add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	// a read concurrent with write 2 may see 1 or 2
	b.add(2, 0, h.Invoke, h.FWrite, "k", s("2")).add(2.1, 1, h.Invoke, h.FRead, "k", nil)
	b.add(2.2, 1, h.OK, h.FRead, "k", s("1")).add(3, 0, h.OK, h.FWrite, "k", s("2"))
	b.add(4, 1, h.Invoke, h.FRead, "k", nil).add(5, 1, h.OK, h.FRead, "k", s("2"))
	// a successful cas, then a failed one that did not happen
	b.cas(6, 0, h.Invoke, "k", "2", "3").cas(7, 0, h.OK, "k", "2", "3")
	b.cas(8, 0, h.Invoke, "k", "2", "4").cas(9, 0, h.Fail, "k", "2", "4")
	b.add(10, 1, h.Invoke, h.FRead, "k", nil).add(11, 1, h.OK, h.FRead, "k", s("3"))
	// an info write may take effect much later, or never
	b.add(12, 2, h.Invoke, h.FWrite, "k", s("5")).add(13, 2, h.Info, h.FWrite, "k", s("5"))
	b.add(14, 1, h.Invoke, h.FRead, "k", nil).add(15, 1, h.OK, h.FRead, "k", s("3"))
	b.add(16, 1, h.Invoke, h.FRead, "k", nil).add(17, 1, h.OK, h.FRead, "k", s("5"))
	// failed and unknown reads constrain nothing
	b.add(18, 1, h.Invoke, h.FRead, "k", nil).add(19, 1, h.Fail, h.FRead, "k", nil)
	b.add(20, 3, h.Invoke, h.FRead, "k", nil).add(21, 3, h.Info, h.FRead, "k", nil)
	// another key starts absent
	b.add(22, 1, h.Invoke, h.FRead, "j", nil).add(23, 1, h.OK, h.FRead, "j", nil)
	r, d := run(t, b.h, Options{})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	assert.Equal(t, 2, d.Keys)
	assert.Equal(t, 2, d.ValidKeys)
	assert.Equal(t, 3, d.Dropped) // failed cas, failed read, info read
	assert.Empty(t, r.Anomalies)
}

func TestStaleReadExplained(t *testing.T) {
	b := &hist{}
	b.add(0, 0, h.Invoke, h.FWrite, "k3", s("7")).add(11.02, 0, h.OK, h.FWrite, "k3", s("7"))
	b.add(11.5, 0, h.Invoke, h.FWrite, "k3", s("9")).add(12.10, 0, h.OK, h.FWrite, "k3", s("9"))
	b.add(12.20, 1, h.Invoke, h.FRead, "k3", nil).add(12.31, 1, h.OK, h.FRead, "k3", s("7"))
	b.add(12.4, 2, h.Invoke, h.FRead, "ok", nil).add(12.5, 2, h.OK, h.FRead, "ok", nil)
	r, d := run(t, b.h, Options{})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	require.Len(t, r.Anomalies, 1)
	a := r.Anomalies[0]
	assert.Equal(t, "k3", a.Key)
	assert.Equal(t, "read of k3 returned 7 at 12.31 s, but write k3=9 had completed at 12.10 s, before the read began at 12.20 s, "+
		"and nothing wrote 7 after it (write k3=7 had completed at 11.02 s, before write k3=9 began)", a.Explanation)
	assert.Equal(t, int64(12.31e9), a.Time)
	assert.Len(t, a.Ops, 6) // the read and both writes, invoked and completed
	assert.Len(t, a.Window, 6)
	require.Len(t, d.Invalid, 1)
	assert.Equal(t, 4, d.Invalid[0].Violation)
	assert.Equal(t, 1, d.ValidKeys)
}

// A caveat the system attached to the violating read (etcd's serializable
// reads) is quoted in the explanation, so the verdict says it plainly.
func TestStaleReadCaveatQuoted(t *testing.T) {
	b := &hist{}
	b.add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	b.add(2, 0, h.Invoke, h.FWrite, "k", s("2")).add(3, 0, h.OK, h.FWrite, "k", s("2"))
	b.add(4, 1, h.Invoke, h.FRead, "k", nil).add(5, 1, h.OK, h.FRead, "k", s("1"))
	b.h[len(b.h)-1].Error = "serializable read: may be stale"
	r, _ := run(t, b.h, Options{})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	require.Len(t, r.Anomalies, 1)
	assert.Contains(t, r.Anomalies[0].Explanation, `. The system noted on that read: "serializable read: may be stale"`)
}

func TestAnomalyCases(t *testing.T) {
	cases := []struct {
		name string
		b    func() *hist
		want string
	}{
		{"never written", func() *hist {
			return (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1")).
				add(2, 1, h.Invoke, h.FRead, "k", nil).add(3, 1, h.OK, h.FRead, "k", s("8"))
		}, "read of k returned 8 at 3.00 s, but no operation ever wrote 8 to k"},
		{"only write failed", func() *hist {
			return (&hist{}).cas(0, 0, h.Invoke, "k", "1", "2").cas(1, 0, h.Fail, "k", "1", "2").
				add(2, 1, h.Invoke, h.FRead, "k", nil).add(3, 1, h.OK, h.FRead, "k", s("2"))
		}, "read of k returned 2 at 3.00 s, but the only write of 2 to k failed (cas k 1→2 at 1.00 s)"},
		{"absent after write", func() *hist {
			return (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1")).
				add(2, 1, h.Invoke, h.FRead, "k", nil).add(3, 1, h.OK, h.FRead, "k", nil)
		}, "read of k returned nothing (absent) at 3.00 s, but write k=1 had completed at 1.00 s, before the read began at 2.00 s, and nothing deletes keys"},
		{"absent after an info write was seen", func() *hist {
			return (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.Info, h.FWrite, "k", s("1")).
				add(2, 1, h.Invoke, h.FRead, "k", nil).add(3, 1, h.OK, h.FRead, "k", s("1")).
				add(4, 1, h.Invoke, h.FRead, "k", nil).add(5, 1, h.OK, h.FRead, "k", nil)
		}, "read of k returned nothing (absent) at 5.00 s, but an earlier read had already seen 1 at 3.00 s, before the read began at 4.00 s, and nothing deletes keys"},
		{"read from the future", func() *hist {
			return (&hist{}).add(0, 1, h.Invoke, h.FRead, "k", nil).add(1, 1, h.OK, h.FRead, "k", s("4")).
				add(2, 0, h.Invoke, h.FWrite, "k", s("4")).add(3, 0, h.OK, h.FWrite, "k", s("4"))
		}, "read of k returned 4 at 1.00 s, but write k=4 only began at 2.00 s, after that"},
		{"stale after an earlier read", func() *hist {
			return (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1")).
				add(2, 0, h.Invoke, h.FWrite, "k", s("2")).
				add(3, 1, h.Invoke, h.FRead, "k", nil).add(4, 1, h.OK, h.FRead, "k", s("2")).
				add(5, 2, h.Invoke, h.FRead, "k", nil).add(6, 2, h.OK, h.FRead, "k", s("1")).
				add(10, 0, h.OK, h.FWrite, "k", s("2"))
		}, "read of k returned 1 at 6.00 s, but an earlier read had already seen 2 at 4.00 s, before the read began at 5.00 s, and 2 was written after 1 (write k=2 began at 2.00 s, after write k=1 completed at 1.00 s)"},
		{"stale cas", func() *hist {
			return (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1")).
				cas(2, 0, h.Invoke, "k", "1", "2").cas(3, 0, h.OK, "k", "1", "2").
				cas(4, 1, h.Invoke, "k", "1", "3").cas(5, 1, h.OK, "k", "1", "3")
		}, "cas k 1→3 succeeded at 5.00 s, so k held 1 then, but cas k 1→2 had completed at 3.00 s, before the cas began at 4.00 s, and nothing wrote 1 after it (write k=1 had completed at 1.00 s, before cas k 1→2 began)"},
		{"times close together", func() *hist {
			return (&hist{}).add(0.0501, 0, h.Invoke, h.FWrite, "k", s("1")).add(0.0512, 0, h.OK, h.FWrite, "k", s("1")).
				add(0.0514, 1, h.Invoke, h.FRead, "k", nil).add(0.0530, 1, h.OK, h.FRead, "k", nil)
		}, "read of k returned nothing (absent) at 0.0530 s, but write k=1 had completed at 0.0512 s, before the read began at 0.0514 s, and nothing deletes keys"},
		{"initial value", func() *hist {
			return (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1")).
				add(2, 1, h.Invoke, h.FRead, "k", nil).add(3, 1, h.OK, h.FRead, "k", s("0"))
		}, "read of k returned 0 at 3.00 s, but write k=1 had completed at 1.00 s, before the read began at 2.00 s, and nothing wrote 0 after it (0 was the initial value)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{}
			if c.name == "initial value" {
				opts.Initial = s("0")
			}
			r, _ := run(t, c.b().h, opts)
			require.Equal(t, h.Invalid, r.Validity, r.Summary)
			require.Len(t, r.Anomalies, 1)
			assert.Equal(t, c.want, r.Anomalies[0].Explanation)
			assert.Contains(t, r.Summary, c.want)
		})
	}
}

// Two concurrent writes, then readers that disagree on their order: no
// single pair of ops proves it, the zones of the two values do.
func TestZoneExplanation(t *testing.T) {
	b := &hist{}
	b.add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(0, 1, h.Invoke, h.FWrite, "k", s("2"))
	b.add(10, 0, h.OK, h.FWrite, "k", s("1")).add(10, 1, h.OK, h.FWrite, "k", s("2"))
	b.add(11, 2, h.Invoke, h.FRead, "k", nil).add(12, 2, h.OK, h.FRead, "k", s("2"))
	b.add(13, 3, h.Invoke, h.FRead, "k", nil).add(14, 3, h.OK, h.FRead, "k", s("1"))
	b.add(15, 2, h.Invoke, h.FRead, "k", nil).add(16, 2, h.OK, h.FRead, "k", s("2"))
	r, d := runDrawn(t, b.h, Options{})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	a := r.Anomalies[0]
	assert.Equal(t, "1 and 2 were both current in k between 10.00 s and 13.00 s, which no order allows: "+
		"1 was in k by 10.00 s (when the write completed) and still read by a read that began at 13.00 s; "+
		"2 was in k by 10.00 s (when the write completed) and still read by a read that began at 15.00 s", a.Explanation)
	assert.Equal(t, int64(16e9), a.Time, "the proof is complete when its last read completed")
	require.Len(t, d.Invalid, 1)
	assert.Equal(t, 3, d.Invalid[0].Linearized)
	assert.Len(t, d.Invalid[0].Partial, 3)
	assert.Len(t, a.Ops, 8)

	// A write that must fall where another value is held throughout.
	c := &hist{}
	c.add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	c.add(1.5, 1, h.Invoke, h.FRead, "k", nil)
	c.add(2, 0, h.Invoke, h.FWrite, "k", s("2")).add(3, 0, h.OK, h.FWrite, "k", s("2"))
	c.add(4, 1, h.OK, h.FRead, "k", s("1"))
	c.add(5, 2, h.Invoke, h.FRead, "k", nil).add(6, 2, h.OK, h.FRead, "k", s("1"))
	r, _ = run(t, c.h, Options{})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Contains(t, r.Anomalies[0].Explanation, "read of k returned 1 at 6.00 s, but write k=2 had completed at 3.00 s")
}

// Two cas from the same value both succeed while concurrent: no pair of ops
// proves it. With unique values the chains name the two cas; with a value
// written twice, porcupine's partial linearization explains it.
func TestFallbackExplanation(t *testing.T) {
	b := &hist{}
	b.add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	b.cas(2, 1, h.Invoke, "k", "1", "2").cas(2, 2, h.Invoke, "k", "1", "3")
	b.cas(10, 1, h.OK, "k", "1", "2").cas(10, 2, h.OK, "k", "1", "3")
	b.add(11, 3, h.Invoke, h.FRead, "k", nil).add(12, 3, h.OK, h.FRead, "k", s("3"))
	r, d := run(t, b.h, Options{})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Equal(t, "cas k 1→2 and cas k 1→3 both took effect, but k held 1 only once (values are written once, and each cas replaced it)",
		r.Anomalies[0].Explanation)
	assert.Equal(t, 1, d.Zoned)
	assert.Len(t, r.Anomalies[0].Ops, 4, "both cas, invocations and completions")

	c := &hist{}
	c.add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	c.cas(2, 1, h.Invoke, "k", "1", "2").cas(2, 2, h.Invoke, "k", "1", "2")
	c.cas(10, 1, h.OK, "k", "1", "2").cas(10, 2, h.OK, "k", "1", "2")
	c.add(11, 3, h.Invoke, h.FRead, "k", nil).add(12, 3, h.OK, h.FRead, "k", s("2"))
	r, d = run(t, c.h, Options{})
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	a := r.Anomalies[0]
	assert.Contains(t, a.Explanation, "no order of the operations on k that respects real time explains it")
	assert.Contains(t, a.Explanation, "of 4 operations")
	require.Len(t, d.Invalid, 1)
	assert.Positive(t, d.Invalid[0].Linearized)
	assert.NotEmpty(t, a.Window)
	t.Log(a.Explanation)
}

func TestPruneUnobservedInfoWrites(t *testing.T) {
	b := &hist{}
	b.add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	for i := 0; i < 5; i++ {
		v := s(string(rune('a' + i)))
		b.add(2+float64(i), 10+i, h.Invoke, h.FWrite, "k", v).add(2.5+float64(i), 10+i, h.Info, h.FWrite, "k", v)
	}
	// An info cas expecting b observes b only if it is kept, and nothing
	// observed its z: both go.
	b.cas(8, 1, h.Invoke, "k", "b", "z").cas(8.5, 1, h.Info, "k", "b", "z")
	b.add(9, 2, h.Invoke, h.FRead, "k", nil).add(10, 2, h.OK, h.FRead, "k", s("c"))
	r, d := run(t, b.h, Options{})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	assert.Equal(t, 5, d.Pruned) // a, b, d, e and the cas to z; c stays
	r2, d2 := run(t, b.h, Options{NoPrune: true})
	assert.Equal(t, h.Valid, r2.Validity)
	assert.Zero(t, d2.Pruned)

	// A kept info cas (its y is read) keeps the write it expected (d).
	b2 := &hist{h: append(h.History(nil), b.h...)}
	b2.cas(10.2, 3, h.Invoke, "k", "d", "y").cas(10.4, 3, h.Info, "k", "d", "y")
	b2.add(10.6, 4, h.Invoke, h.FRead, "k", nil).add(10.8, 4, h.OK, h.FRead, "k", s("y"))
	r4, d4 := run(t, b2.h, Options{})
	assert.Equal(t, h.Valid, r4.Validity, r4.Summary)
	assert.Equal(t, 4, d4.Pruned, "a, b, e and the cas to z; c, d and the cas to y stay")

	// Pruning never hides a violation: a stale read stays one.
	b.add(11, 2, h.Invoke, h.FRead, "k", nil).add(12, 2, h.OK, h.FRead, "k", s("1"))
	r3, _ := run(t, b.h, Options{})
	assert.Equal(t, h.Invalid, r3.Validity)
}

func TestJepsenNilCASAndInitial(t *testing.T) {
	// formats/jepsen encodes cas [nil 3] with From "".
	b := (&hist{}).cas(0, 0, h.Invoke, "", "", "3").cas(1, 0, h.OK, "", "", "3").
		add(2, 1, h.Invoke, h.FRead, "", nil).add(3, 1, h.OK, h.FRead, "", s("3"))
	r, _ := run(t, b.h, Options{})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)

	// Knossos: a read of nil is a read of unknown result.
	n := (&hist{}).add(0, 0, h.Invoke, h.FWrite, "", s("1")).add(1, 0, h.OK, h.FWrite, "", s("1")).
		add(2, 1, h.Invoke, h.FRead, "", nil).add(3, 1, h.OK, h.FRead, "", nil)
	r, _ = run(t, n.h, Options{})
	assert.Equal(t, h.Invalid, r.Validity, r.Summary)
	r, _ = run(t, n.h, Options{NilReadsUnknown: true})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)

	c := (&hist{}).add(0, 1, h.Invoke, h.FRead, "", nil).add(1, 1, h.OK, h.FRead, "", s("0"))
	r, _ = run(t, c.h, Options{Initial: s("0")})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	r, _ = run(t, c.h, Options{})
	assert.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Contains(t, r.Anomalies[0].Explanation, "read of the register returned 0")
}

// hard is a history porcupine cannot settle quickly: n overlapping writes,
// each value written twice (so that chains do not apply), then a read of a
// value nobody wrote.
func hard(n int) h.History {
	b := &hist{}
	for i := 0; i < n; i++ {
		b.add(float64(i)*1e-6, i, h.Invoke, h.FWrite, "k", s(string(rune('A'+i/2))))
	}
	for i := 0; i < n; i++ {
		b.add(1+float64(i)*1e-6, i, h.OK, h.FWrite, "k", s(string(rune('A'+i/2))))
	}
	// reads concurrent with everything, each seeing a different write
	for i := 0; i < n; i++ {
		b.add(2+float64(i)*1e-6, 100+i, h.Invoke, h.FRead, "k", nil)
	}
	b.add(3, 100, h.OK, h.FRead, "k", s("nobody"))
	return b.h
}

func TestNothingToCheckIsUnknown(t *testing.T) {
	b := (&hist{}).nemesis(0, "start-kill", "").add(1, 0, h.Invoke, h.FAdd, "", s("1")).add(2, 0, h.OK, h.FAdd, "", s("1"))
	r, d := run(t, b.h, Options{})
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Equal(t, 1, d.Ignored)
}

func TestTimeoutIsUnknown(t *testing.T) {
	b := (&hist{}).add(0, 0, h.Invoke, h.FWrite, "k", s("1")).add(1, 0, h.OK, h.FWrite, "k", s("1"))
	r, d := run(t, b.h, Options{Timeout: time.Nanosecond})
	assert.Equal(t, h.Unknown, r.Validity, r.Summary)
	assert.Contains(t, r.Summary, "unknown, not valid")
	assert.Equal(t, []string{"k"}, d.Undecided)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r = Check(ctx, b.h, Options{})
	assert.Equal(t, h.Unknown, r.Validity, r.Summary)
	assert.Contains(t, r.Summary, "cancelled")

	// A search that really runs out of time.
	start := time.Now()
	r = Check(context.Background(), hard(40), Options{Timeout: 200 * time.Millisecond})
	assert.Equal(t, h.Unknown, r.Validity, r.Summary)
	// Unbounded, hard(40) searches for hours: a loose bound proves the
	// timeout ended it without racing a loaded machine.
	assert.Less(t, time.Since(start), 2*time.Minute)

	// The context's deadline counts too.
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r = New(Options{}).Check(ctx, h.CheckInput{History: hard(40)})
	assert.Equal(t, h.Unknown, r.Validity, r.Summary)
}

// A search that would outgrow its memory budget ends unknown, with the
// reason, long before its timeout.
func TestMemoryBudgetIsUnknown(t *testing.T) {
	start := time.Now()
	r, d := run(t, hard(40), Options{Timeout: 60 * time.Second, MemoryBudget: 16 << 20})
	assert.Equal(t, h.Unknown, r.Validity, r.Summary)
	assert.Contains(t, r.Summary, "memory budget of 16 MiB")
	assert.Equal(t, []string{"k"}, d.Undecided)
	t.Logf("ended in %s", time.Since(start).Round(time.Millisecond))
}

func TestInvalidBeatsUndecided(t *testing.T) {
	hh := hard(40)
	b := &hist{h: hh}
	b.add(10, 0, h.Invoke, h.FWrite, "j", s("1")).add(11, 0, h.OK, h.FWrite, "j", s("1"))
	b.add(12, 1, h.Invoke, h.FRead, "j", nil).add(13, 1, h.OK, h.FRead, "j", s("2"))
	r, d := run(t, b.h, Options{Timeout: 300 * time.Millisecond})
	assert.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Equal(t, []string{"k"}, d.Undecided)
	assert.Contains(t, r.Summary, "1 keys undecided")
}

func TestVisualizationWithFaults(t *testing.T) {
	b := &hist{}
	b.nemesis(0.5, "start-partition", "partition {n1,n2} | {n3,n4,n5}")
	b.add(0, 0, h.Invoke, h.FWrite, "k3", s("7")).add(1, 0, h.OK, h.FWrite, "k3", s("7"))
	b.add(2, 0, h.Invoke, h.FWrite, "k3", s("9")).add(3, 0, h.OK, h.FWrite, "k3", s("9"))
	b.add(4, 1, h.Invoke, h.FRead, "k3", nil).add(5, 1, h.OK, h.FRead, "k3", s("7"))
	b.nemesis(6, "stop-partition", "healed")
	dir := t.TempDir()
	r := New(Options{}).Check(context.Background(), h.CheckInput{History: b.h, Dir: dir})
	require.Equal(t, h.Invalid, r.Validity)
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	assert.Equal(t, []string{"k3"}, d.Drawn)
	require.Len(t, d.Views, 1)
	assert.Equal(t, []string{FileName, d.Views[0]}, r.Artifacts)
	index, err := os.ReadFile(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Contains(t, string(index), `src="`+d.Views[0]+`"`, "the index frames each key's page")
	html, err := os.ReadFile(filepath.Join(dir, d.Views[0]))
	require.NoError(t, err)
	assert.Contains(t, string(html), "fault: partition")
	assert.Contains(t, string(html), "read k3 → 7")

	anns := faultAnnotations(b.h)
	require.Len(t, anns, 1)
	assert.Equal(t, int64(0.5e9), anns[0].Start)
	assert.Equal(t, int64(6e9), anns[0].End)

	// Reports redraw stored runs: the failing keys by default, or the
	// keys asked for.
	var buf bytes.Buffer
	require.NoError(t, Visualize(&buf, b.h, nil, Options{}))
	assert.Contains(t, buf.String(), "read k3 → 7")
	assert.Error(t, Visualize(&buf, b.h[:5], nil, Options{}), "nothing fails")
	buf.Reset()
	require.NoError(t, Visualize(&buf, b.h[:5], []string{"k3"}, Options{}))
	assert.Contains(t, buf.String(), "write k3=9")
	assert.Error(t, Visualize(&buf, b.h, []string{"nope"}, Options{}))

	// A valid history writes nothing.
	dir2 := t.TempDir()
	r = New(Options{}).Check(context.Background(), h.CheckInput{History: b.h[:5], Dir: dir2})
	require.Equal(t, h.Valid, r.Validity, r.Summary)
	_, err = os.Stat(filepath.Join(dir2, FileName))
	assert.True(t, os.IsNotExist(err))
}

// Keys, values and errors are user data; porcupine's page puts states and
// tooltips through innerHTML.
func TestVisualizationEscapes(t *testing.T) {
	b := &hist{}
	x := "<img src=x onerror=alert(1)>"
	b.add(0, 0, h.Invoke, h.FWrite, x, s(x)).add(1, 0, h.OK, h.FWrite, x, s(x))
	b.add(2, 1, h.Invoke, h.FRead, x, nil).add(3, 1, h.OK, h.FRead, x, s("<b>"))
	b.h[3].Error = "<script>"
	var buf bytes.Buffer
	require.NoError(t, Visualize(&buf, b.h, nil, Options{}))
	out := buf.String()
	assert.Contains(t, out, `"StateDescription":"\u0026#34;\u0026lt;img src=x onerror=alert(1)\u0026gt;\u0026#34;"`)
	assert.NotContains(t, out, `"StateDescription":"\u003c`)
	assert.Contains(t, out, `error: \u0026lt;script\u0026gt;"`)
	assert.NotContains(t, out, `\u003cscript`)
	m := model(nil, nil)
	assert.Equal(t, "&lt;b&gt;", m.DescribeState(state{present: true, v: "<b>"}))
	assert.Equal(t, "op 3, error: &lt;script&gt;", m.DescribeOperationMetadata(meta{text: "op 3, error: <script>"}))
}

func TestFaultPeriods(t *testing.T) {
	b := &hist{}
	b.nemesis(1, "start-partition", "")
	b.nemesis(1.2, "start-partition", "isolate n3")
	b.nemesis(1.5, "start-kill", "")
	b.nemesis(5, "stop-partition", "")
	b.nemesis(5.3, "stop-partition", "healed")
	b.nemesis(6, "start", "") // Jepsen's bare :start, never stopped
	b.add(9, 0, h.Invoke, h.FRead, "k", nil)
	anns := faultAnnotations(b.h)
	require.Len(t, anns, 3)
	assert.Equal(t, "partition", anns[0].Description)
	assert.Equal(t, "isolate n3", anns[0].Details)
	assert.Equal(t, [2]int64{1e9, 5.3e9}, [2]int64{anns[0].Start, anns[0].End})
	assert.Equal(t, [2]int64{1.5e9, 9e9}, [2]int64{anns[1].Start, anns[1].End}, "an unhealed kill lasts to the end")
	assert.Equal(t, "fault: nemesis", anns[2].Tag)
}

// Transactions are refused clearly, not ignored into a valid verdict.
func TestRefusesTransactions(t *testing.T) {
	hist := h.History{
		{Index: 0, Process: 0, Type: h.Invoke, F: h.FTxn, Txn: []h.Mop{{F: h.MAppend, Key: "x", Value: h.Str("1")}}},
		{Index: 1, Process: 0, Type: h.OK, F: h.FTxn, Txn: []h.Mop{{F: h.MAppend, Key: "x", Value: h.Str("1")}}},
	}
	res := New(Options{}).Check(context.Background(), h.CheckInput{History: hist})
	assert.Equal(t, h.Unknown, res.Validity)
	assert.Contains(t, res.Summary, "op 0 (0 invoke txn [append x 1]): a transaction, but the register checker judges")
	assert.NotNil(t, New(Options{}).ValidateHistory(hist))
}
