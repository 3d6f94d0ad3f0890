package mutex

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// ev is one event: process, type, f, at time t.
type ev struct {
	p h.Process
	t h.Type
	f string
}

func hist(evs ...ev) h.History {
	out := make(h.History, len(evs))
	for i, e := range evs {
		out[i] = h.Op{Index: i, Process: e.p, Type: e.t, F: e.f, Time: int64(i)}
	}
	return out
}

func check(hh h.History) h.Result {
	return New(time.Second).Check(context.Background(), h.CheckInput{History: hh})
}

func TestMutex(t *testing.T) {
	cases := []struct {
		name string
		h    h.History
		want h.Validity
	}{
		{"acquire release acquire", hist(ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"}, ev{0, h.Invoke, "release"}, ev{0, h.OK, "release"},
			ev{1, h.Invoke, "acquire"}, ev{1, h.OK, "acquire"}), h.Valid},
		{"two holders", hist(ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"}, ev{1, h.Invoke, "acquire"}, ev{1, h.OK, "acquire"}), h.Invalid},
		{"release of a free lock", hist(ev{0, h.Invoke, "release"}, ev{0, h.OK, "release"}), h.Invalid},
		// Knossos's mutex has no owner: another process may release.
		{"release by another", hist(ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"}, ev{1, h.Invoke, "release"}, ev{1, h.OK, "release"},
			ev{2, h.Invoke, "acquire"}, ev{2, h.OK, "acquire"}), h.Valid},
		{"failed acquire did not happen", hist(ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"}, ev{1, h.Invoke, "acquire"}, ev{1, h.Fail, "acquire"}), h.Valid},
		// An info release may have happened: then the second acquire is fine.
		{"info release may have freed it", hist(ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"}, ev{0, h.Invoke, "release"}, ev{0, h.Info, "release"},
			ev{1, h.Invoke, "acquire"}, ev{1, h.OK, "acquire"}), h.Valid},
		// An info acquire may never have happened.
		{"info acquire may not have happened", hist(ev{0, h.Invoke, "acquire"}, ev{0, h.Info, "acquire"},
			ev{1, h.Invoke, "acquire"}, ev{1, h.OK, "acquire"}), h.Valid},
		// Overlapping acquire and release: the release may come first? No:
		// the lock is free at the start, so it must be the acquire.
		{"concurrent acquire and release", hist(ev{0, h.Invoke, "acquire"}, ev{1, h.Invoke, "release"}, ev{0, h.OK, "acquire"}, ev{1, h.OK, "release"},
			ev{2, h.Invoke, "acquire"}, ev{2, h.OK, "acquire"}), h.Valid},
		{"held after a concurrent pair, then acquired", hist(ev{0, h.Invoke, "acquire"}, ev{1, h.Invoke, "release"}, ev{0, h.OK, "acquire"}, ev{1, h.OK, "release"},
			ev{2, h.Invoke, "release"}, ev{2, h.OK, "release"}), h.Invalid},
	}
	for _, c := range cases {
		r := check(c.h)
		assert.Equal(t, c.want, r.Validity, "%s: %s", c.name, r.Summary)
	}
}

func TestMutexPerKeyAndForeignOps(t *testing.T) {
	hh := hist(ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"}, ev{1, h.Invoke, "acquire"}, ev{1, h.OK, "acquire"})
	hh[2].Key, hh[3].Key = "b", "b"
	assert.Equal(t, h.Valid, check(hh).Validity, "different locks")

	r := check(hist(ev{0, h.Invoke, "read"}, ev{0, h.OK, "read"}))
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, ":read")
}

// An invalid history's anomaly names the op that cannot take effect.
func TestMutexExplains(t *testing.T) {
	r := check(hist(ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"}, ev{0, h.Invoke, "release"}, ev{0, h.OK, "release"},
		ev{1, h.Invoke, "release"}, ev{1, h.OK, "release"}))
	require.Equal(t, h.Invalid, r.Validity)
	require.Len(t, r.Anomalies, 1)
	a := r.Anomalies[0]
	assert.Equal(t, "release by process 1 succeeded, but it cannot take effect: the 2 acquires and releases that can be ordered before it leave the lock free (the last of them: release by process 0)", a.Explanation)
	assert.Equal(t, int64(5), a.Time, "the time of its completion")
}

// A search that would outgrow its memory budget ends unknown, with the
// reason, instead of taking the process down: 24 acquires and releases of
// unknown outcome stay open while one process acquires 30 times in a row,
// so every subset of them must be tried before the history is found
// illegal.
func TestMutexMemoryBudgetIsUnknown(t *testing.T) {
	open := func(typ h.Type) (out []ev) {
		for p := h.Process(1); p <= 24; p++ {
			out = append(out, ev{p, typ, []string{"release", "acquire"}[p%2]})
		}
		return out
	}
	evs := open(h.Invoke)
	for range 30 {
		evs = append(evs, ev{0, h.Invoke, "acquire"}, ev{0, h.OK, "acquire"})
	}
	evs = append(evs, open(h.Info)...)
	c := Checker{Timeout: time.Minute, MemoryBudget: 4 << 20}
	start := time.Now()
	r := c.Check(context.Background(), h.CheckInput{History: hist(evs...)})
	assert.Equal(t, h.Unknown, r.Validity, r.Summary)
	assert.Contains(t, r.Summary, "memory budget of 4 MiB")
	assert.Less(t, time.Since(start), 30*time.Second)
}
