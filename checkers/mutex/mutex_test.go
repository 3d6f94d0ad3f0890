package mutex

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// ev is one event: process, type, f, with an optional key and value.
type ev struct {
	p h.Process
	t h.Type
	f string
	k string
	v string
}

// hist numbers the events and puts event i at i·100 ms.
func hist(evs ...ev) h.History {
	out := make(h.History, len(evs))
	for i, e := range evs {
		out[i] = h.Op{Index: i, Process: e.p, Type: e.t, F: e.f, Key: e.k, Time: int64(i) * 100e6}
		if e.v != "" {
			out[i].Value = h.Str(e.v)
		}
	}
	return out
}

func check(hh h.History) h.Result {
	return New(time.Second).Check(context.Background(), h.CheckInput{History: hh})
}

const (
	acq = "acquire"
	rel = "release"
	hld = "hold"
)

func TestMutex(t *testing.T) {
	cases := []struct {
		name string
		h    h.History
		want h.Validity
	}{
		{"acquire release acquire", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.OK, f: rel},
			ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}), h.Valid},
		{"two holders", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}), h.Invalid},
		{"release of a free lock", hist(ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.OK, f: rel}), h.Invalid},
		// Owners: another process cannot release (Knossos's mutex would let it).
		{"release by another", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 1, t: h.Invoke, f: rel}, ev{p: 1, t: h.OK, f: rel}), h.Invalid},
		{"failed acquire did not happen", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.Fail, f: acq}), h.Valid},
		// An info release may have happened: then the second acquire is fine.
		{"info release may have freed it", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.Info, f: rel},
			ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}), h.Valid},
		// A pending release counts as an info one.
		{"pending release may have freed it", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 0, t: h.Invoke, f: rel},
			ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}), h.Valid},
		// An info or pending acquire may never have happened.
		{"info acquire may not have happened", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.Info, f: acq},
			ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}), h.Valid},
		{"pending acquire may not have happened", hist(ev{p: 0, t: h.Invoke, f: acq},
			ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}), h.Valid},
		// ... but it may have: its process may then release.
		{"release after an info acquire", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.Info, f: acq}, ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.OK, f: rel}), h.Valid},
		// Overlapping acquires: either may have gone first.
		{"concurrent acquires, then a release", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 1, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq},
			ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.OK, f: rel}, ev{p: 1, t: h.OK, f: acq}), h.Valid},
		// A failed release ends the hold (its holder let go); the lock may
		// still be its own, so it may release again.
		{"failed release, released again", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.Fail, f: rel},
			ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.OK, f: rel}), h.Valid},
		{"acquired again while held", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}), h.Invalid},
		{"released twice", hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.OK, f: rel},
			ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.OK, f: rel}), h.Invalid},
		{"different locks", hist(ev{p: 0, t: h.Invoke, f: acq, k: "a"}, ev{p: 0, t: h.OK, f: acq, k: "a"}, ev{p: 1, t: h.Invoke, f: acq, k: "b"}, ev{p: 1, t: h.OK, f: acq, k: "b"}), h.Valid},
		{"no ops", nil, h.Valid},
	}
	for _, c := range cases {
		r := check(c.h)
		assert.Equal(t, c.want, r.Validity, "%s: %s", c.name, r.Summary)
		assert.Equal(t, "mutex", r.Checker)
	}
}

// The anomaly says who held what when, with op indexes and times.
func TestMutexExplains(t *testing.T) {
	r := check(hist(
		ev{p: 1, t: h.Invoke, f: acq, k: "L"}, ev{p: 1, t: h.OK, f: acq, k: "L", v: "7"}, // 0, 1
		ev{p: 3, t: h.Invoke, f: acq, k: "L"}, ev{p: 3, t: h.OK, f: acq, k: "L", v: "9"}, // 2, 3
		ev{p: 1, t: h.Invoke, f: rel, k: "L"}, ev{p: 1, t: h.OK, f: rel, k: "L"}, // 4, 5
	))
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	require.Len(t, r.Anomalies, 1)
	a := r.Anomalies[0]
	assert.Equal(t, "process 3 acquired L at 0.30 s (op 3) while process 1 still held it since 0.10 s "+
		"(acquired ok at 0.10 s (op 1, token 7), its release began at 0.40 s (op 4)); tokens 7 and 9", a.Explanation)
	assert.Equal(t, int64(300e6), a.Time)
	assert.Equal(t, "L", a.Key)
	var idx []int
	for _, o := range a.Ops {
		idx = append(idx, o.Index)
	}
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5}, idx, "both acquires, and the release that ended the earlier hold")
	assert.Equal(t, "7", *a.Ops[1].Value, "the history's ops, tokens included")
	assert.Contains(t, r.Summary, "1 mutual exclusion violated")
	assert.Contains(t, r.Summary, "acquire 2 ok; release 1 ok")

	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	require.Len(t, d.Holds, 2)
	assert.Equal(t, [][2]int{{0, 1}}, d.Violations)
	assert.Equal(t, View, r.View)
}

// A hold never let go lasts to the end; the explanation says so.
func TestMutexOpenHold(t *testing.T) {
	r := check(hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}))
	require.Len(t, r.Anomalies, 1)
	assert.Equal(t, "process 1 acquired the lock at 0.30 s (op 3) while process 0 still held it since 0.10 s "+
		"(acquired ok at 0.10 s (op 1), and it never began a release before the history ended)", r.Anomalies[0].Explanation)
}

// Same input, same culprit and same words, every time (issue 28 item 8):
// several holders never let go, on several locks.
func TestMutexDeterministic(t *testing.T) {
	var evs []ev
	for _, k := range []string{"a", "b", "c"} {
		for p := h.Process(0); p < 6; p++ {
			evs = append(evs, ev{p: p + h.Process(10*len(k)), t: h.Invoke, f: acq, k: k}, ev{p: p + h.Process(10*len(k)), t: h.OK, f: acq, k: k})
		}
	}
	hh := hist(evs...)
	first := check(hh)
	require.Equal(t, h.Invalid, first.Validity)
	for range 30 {
		again := check(hh)
		assert.Equal(t, first.Summary, again.Summary)
		assert.Equal(t, first.Anomalies, again.Anomalies)
		assert.Equal(t, first.Details, again.Details)
	}
	assert.Contains(t, first.Anomalies[0].Explanation, "process 11 acquired a at 0.30 s (op 3) while process 10 still held it")
}

// Pending invocations are counted as such in the summary (issue 28 item 8),
// and nothing is left empty when a function has no ops.
func TestMutexCountsPending(t *testing.T) {
	r := check(hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq}, ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.Fail, f: acq},
		ev{p: 0, t: h.Invoke, f: rel}, ev{p: 2, t: h.Invoke, f: acq}))
	assert.Equal(t, h.Valid, r.Validity)
	assert.Equal(t, "1 holds of the lock never overlapped; acquire 1 ok, 1 fail, 1 pending; release 0 ok, 1 pending", r.Summary)
	assert.Equal(t, "0 holds of 0 locks never overlapped; no acquires or releases", check(nil).Summary)
}

// Guarded work: a failed guarded op ends the hold at the holder's last ok
// op, so a lease that ran out while the holder knew it is no violation.
func TestMutexGuardedWork(t *testing.T) {
	lost := hist(
		ev{p: 0, t: h.Invoke, f: acq, v: ""}, ev{p: 0, t: h.OK, f: acq, v: "5"}, // 0, 1
		ev{p: 0, t: h.Invoke, f: hld, v: "50"}, ev{p: 0, t: h.OK, f: hld, v: "50"}, // 2, 3
		ev{p: 0, t: h.Invoke, f: hld, v: "50"}, ev{p: 0, t: h.Fail, f: hld, v: "50"}, // 4, 5: its lease ran out
		ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq, v: "8"}, // 6, 7
		ev{p: 0, t: h.Invoke, f: rel}, ev{p: 0, t: h.Fail, f: rel}, // 8, 9: no longer its own
		ev{p: 1, t: h.Invoke, f: hld, v: "50"}, ev{p: 1, t: h.OK, f: hld, v: "50"},
		ev{p: 1, t: h.Invoke, f: rel}, ev{p: 1, t: h.OK, f: rel},
	)
	r := check(lost)
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	require.Len(t, d.Holds, 2)
	assert.Equal(t, EndLost, d.Holds[0].EndKind)
	assert.Equal(t, int64(300e6), d.Holds[0].End, "its last ok guarded op's completion")
	assert.Len(t, d.Holds[0].Guarded, 1)

	// The same, but the guarded work went on after the other acquired.
	worked := hist(
		ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq, v: "5"}, // 0, 1
		ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq, v: "8"}, // 2, 3
		ev{p: 1, t: h.Invoke, f: hld, v: "50"}, ev{p: 1, t: h.OK, f: hld, v: "50"}, // 4, 5
		ev{p: 0, t: h.Invoke, f: hld, v: "50"}, ev{p: 0, t: h.OK, f: hld, v: "50"}, // 6, 7: stale work
		ev{p: 0, t: h.Invoke, f: hld, v: "50"}, ev{p: 0, t: h.Fail, f: hld, v: "50"}, // 8, 9
	)
	r = check(worked)
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	assert.Contains(t, r.Anomalies[0].Explanation, "its guarded work last ended ok at 0.70 s (op 7) before it found the lock lost (op 8)")
	// Fencing held: process 1 got the larger token, so a resource checking
	// tokens would have refused process 0's stale work.
	assert.Len(t, r.Anomalies, 1)
	assert.Contains(t, r.Summary, "would have refused 1 guarded ops")

	// A holder that learns at once it holds nothing held nothing.
	at := hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq}, ev{p: 0, t: h.OK, f: acq},
		ev{p: 0, t: h.Invoke, f: hld, v: "10"}, ev{p: 0, t: h.Fail, f: hld})
	assert.Equal(t, h.Valid, check(at).Validity, "process 0 found at once that it held nothing")
}

func TestMutexFencing(t *testing.T) {
	cycle := func(p h.Process, token string) []ev {
		return []ev{{p: p, t: h.Invoke, f: acq}, {p: p, t: h.OK, f: acq, v: token}, {p: p, t: h.Invoke, f: rel}, {p: p, t: h.OK, f: rel}}
	}
	var good []ev
	for i, tok := range []string{"3", "4", "10", "11"} {
		good = append(good, cycle(h.Process(i), tok)...)
	}
	r := check(hist(good...))
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	assert.Contains(t, r.Summary, "4 fencing tokens unique and increasing")

	dup := append(append(cycle(0, "3"), cycle(1, "4")...), cycle(2, "4")...)
	r = check(hist(dup...))
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	require.Len(t, r.Anomalies, 1)
	assert.Equal(t, "fencing: process 2's acquire of the lock at 0.90 s (op 9) got token 4, the token process 1 got at 0.50 s (op 5): a resource cannot tell the two holders apart", r.Anomalies[0].Explanation)

	stale := append(append(cycle(0, "3"), cycle(1, "9")...), cycle(2, "5")...)
	r = check(hist(stale...))
	require.Equal(t, h.Invalid, r.Validity, r.Summary)
	require.Len(t, r.Anomalies, 1)
	assert.Equal(t, "fencing: process 2's acquire of the lock, invoked at 0.80 s after process 1's had completed at 0.50 s (op 5, token 9), got the smaller token 5 (op 9): a resource that had seen 9 would refuse the newer holder", r.Anomalies[0].Explanation)
	assert.Contains(t, r.Summary, "1 fencing violated")

	// Concurrent acquires may get their tokens in either order.
	conc := hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 1, t: h.Invoke, f: acq}, ev{p: 1, t: h.OK, f: acq, v: "9"},
		ev{p: 1, t: h.Invoke, f: rel}, ev{p: 1, t: h.OK, f: rel}, ev{p: 0, t: h.OK, f: acq, v: "8"})
	assert.Equal(t, h.Valid, check(conc).Validity)
}

// Bad input is named, never a crash: a foreign function or a token that
// is not a number makes the check unknown and the validator refuse (exit
// 64 in gauntlet check); a release by a process that never held the lock
// is an anomaly naming the op.
func TestMutexBadInput(t *testing.T) {
	c := New(time.Second)
	r := check(hist(ev{p: 0, t: h.Invoke, f: "read"}, ev{p: 0, t: h.OK, f: "read"}))
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, ":read is not an operation of locks")

	bad := hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq, v: "seven"})
	e := c.ValidateHistory(bad)
	require.NotNil(t, e)
	assert.Equal(t, 1, e.Pos)
	assert.Equal(t, `op 1 (0 ok acquire=seven): the fencing token "seven" of an ok acquire is not a non-negative decimal integer`, e.Error())
	assert.Equal(t, h.Unknown, check(bad).Validity)

	e = c.ValidateHistory(hist(ev{p: 0, t: h.Invoke, f: hld, v: "-3"}))
	require.NotNil(t, e)
	assert.Contains(t, e.Error(), "not a number of milliseconds")

	r = check(hist(ev{p: 0, t: h.Invoke, f: acq, k: "L"}, ev{p: 0, t: h.OK, f: acq, k: "L"},
		ev{p: 4, t: h.Invoke, f: rel, k: "L"}, ev{p: 4, t: h.OK, f: rel, k: "L"}))
	require.Equal(t, h.Invalid, r.Validity)
	require.Len(t, r.Anomalies, 1)
	assert.Equal(t, "process 4 released L at 0.30 s (op 3) but never held it: no acquire of its own could have granted it", r.Anomalies[0].Explanation)
	assert.Contains(t, r.Summary, "1 ownership violated")

	r = check(hist(ev{p: 2, t: h.Invoke, f: hld, k: "L", v: "5"}, ev{p: 2, t: h.OK, f: hld, k: "L", v: "5"}))
	require.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Anomalies[0].Explanation, "process 2 did guarded work on L at 0.10 s (op 1) but never held it")
}

// Nemesis ops are not the checker's business.
func TestMutexSkipsNemesis(t *testing.T) {
	hh := hist(ev{p: 0, t: h.Invoke, f: acq}, ev{p: 0, t: h.OK, f: acq})
	hh = append(hh, h.Op{Index: 2, Process: h.NemesisProcess, Type: h.Info, F: "start-partition", Time: 300e6})
	assert.Equal(t, h.Valid, check(hh).Validity)
}

// The explanation names the nodes the acquires went through and the fault
// under way when the second holder got the lock.
func TestMutexExplainsNodesAndFaults(t *testing.T) {
	hh := hist(
		ev{p: 1, t: h.Invoke, f: acq, k: "L"}, ev{p: 1, t: h.OK, f: acq, k: "L", v: "7"}, // 0, 1
		ev{p: h.NemesisProcess, t: h.Invoke, f: "start-partition"}, ev{p: h.NemesisProcess, t: h.Info, f: "start-partition", v: "isolated leader n1"}, // 2, 3
		ev{p: 3, t: h.Invoke, f: acq, k: "L"}, ev{p: 3, t: h.OK, f: acq, k: "L", v: "9"}, // 4, 5
		ev{p: h.NemesisProcess, t: h.Invoke, f: "stop-partition"}, ev{p: h.NemesisProcess, t: h.Info, f: "stop-partition"}, // 6, 7
		ev{p: 1, t: h.Invoke, f: rel, k: "L"}, ev{p: 1, t: h.OK, f: rel, k: "L"}, // 8, 9
	)
	hh[1].Node, hh[5].Node = "n1", "n4"
	r := check(hh)
	require.Len(t, r.Anomalies, 1, r.Summary)
	assert.Equal(t, "process 3 acquired L at 0.50 s (op 5, via n4) while process 1 still held it since 0.10 s "+
		"(acquired ok at 0.10 s (op 1, via n1, token 7), its release began at 0.80 s (op 8)); tokens 7 and 9; "+
		"fault under way: partition: isolated leader n1 (since 0.30 s)", r.Anomalies[0].Explanation)
}
