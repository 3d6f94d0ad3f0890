package stats

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// ops makes n pairs of f with the given outcome, each taking 2 ms.
func ops(hist h.History, n int, f string, t h.Type) h.History {
	for i := 0; i < n; i++ {
		at := int64(len(hist)) * 1e6
		p := h.Process(i)
		hist = append(hist,
			h.Op{Index: len(hist), Process: p, Type: h.Invoke, F: f, Time: at},
			h.Op{Index: len(hist) + 1, Process: p, Type: t, F: f, Time: at + 2e6})
	}
	return hist
}

func TestCountsAndQuantiles(t *testing.T) {
	var hist h.History
	hist = ops(hist, 30, h.FRead, h.OK)
	hist = ops(hist, 5, h.FWrite, h.Fail)
	hist = ops(hist, 20, h.FWrite, h.OK)
	hist = ops(hist, 3, h.FWrite, h.Info)
	for _, f := range []string{"start-kill", "start-kill", "stop-kill", "stop-kill", "start-kill", "start-kill"} {
		hist = append(hist, h.Op{Index: len(hist), Process: h.NemesisProcess, Type: h.Info, F: f, Time: int64(len(hist)) * 1e6})
	}
	hist = append(hist, h.Op{Index: len(hist), Process: 99, Type: h.Invoke, F: h.FRead, Time: int64(len(hist)) * 1e6})
	r := New().Check(context.Background(), h.CheckInput{History: hist})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	var d Details
	require.NoError(t, json.Unmarshal(r.Details, &d))
	assert.Equal(t, Counts{OK: 30, Pending: 1}, withoutLatency(d.ByF[h.FRead]))
	assert.Equal(t, Counts{OK: 20, Fail: 5, Info: 3}, withoutLatency(d.ByF[h.FWrite]))
	assert.Equal(t, 50, d.Total.OK)
	assert.Equal(t, 2, d.Faults)
	require.NotNil(t, d.Total.Latency)
	assert.InDelta(t, 2.0, d.Total.Latency.P50, 1e-9)
	assert.InDelta(t, 2.0, d.Total.Latency.Max, 1e-9)
	assert.Equal(t, "50 ok, 5 fail, 3 info, 1 pending (ok/fail/info/pending: read 30/0/0/1, write 20/5/3/0)", r.Summary,
		"pending invocations are counted in the summary as in Details")
}

// A history with no client ops says so: no empty "(ok/fail/info: )".
func TestSummaryOfNothing(t *testing.T) {
	r := New().Check(context.Background(), h.CheckInput{})
	assert.NotContains(t, r.Summary, "()")
	assert.NotContains(t, r.Summary, ": )")
	assert.Contains(t, r.Summary, "no client ops")

	r = New().Check(context.Background(), h.CheckInput{History: ops(nil, 12, h.FRead, h.OK)})
	assert.Equal(t, "12 ok, 0 fail, 0 info (ok/fail/info: read 12/0/0)", r.Summary)
}

func withoutLatency(c Counts) Counts { c.Latency = nil; return c }

func TestAlmostNothingSucceededIsUnknown(t *testing.T) {
	var hist h.History
	hist = ops(hist, 9, h.FRead, h.OK)
	hist = ops(hist, 50, h.FWrite, h.Info)
	r := New().Check(context.Background(), h.CheckInput{History: hist})
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, "only 9 ops succeeded")

	hist = ops(nil, 10, h.FRead, h.OK)
	hist = ops(hist, 2500, h.FWrite, h.Fail)
	hist = ops(hist, 10, h.FWrite, h.OK)
	r = New().Check(context.Background(), h.CheckInput{History: hist})
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, "only 20 of 2520 completed ops succeeded (0.79%")

	// Reads never succeeded: the history cannot show a stale read.
	hist = ops(nil, 100, h.FWrite, h.OK)
	hist = ops(hist, 30, h.FRead, h.Fail)
	r = New().Check(context.Background(), h.CheckInput{History: hist})
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, "no read of 30 succeeded")

	r = New().Check(context.Background(), h.CheckInput{})
	assert.Equal(t, h.Unknown, r.Validity)
}

// Faults are counted from their typed marks (and old and Jepsen F strings):
// a start recorded twice is one fault; a heal of every package closes them
// all, so the next start is another.
func TestFaultsCountedByMark(t *testing.T) {
	var hist h.History
	add := func(f string, m *h.FaultMark) {
		hist = append(hist, h.Op{Index: len(hist), Process: h.NemesisProcess, Type: h.Info, F: f, Fault: m, Time: int64(len(hist)) * 1e6})
	}
	add("start-pause", &h.FaultMark{Package: "pause"})
	add("start-pause", &h.FaultMark{Package: "pause"})
	add("start-kill", nil)
	add("heal", nil) // Jepsen's heal: every package
	add("start-kill", nil)
	add("start", nil) // Jepsen's bare start: package "nemesis"
	add("stop", nil)
	d := Compute(hist)
	assert.Equal(t, 4, d.Faults)
}
