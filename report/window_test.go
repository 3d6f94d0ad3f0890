package report

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// windowOf builds a checker's window of n ops on key k, one every 10 ms
// from 1 s, each completed 8 ms after its invocation; the ops at named (by
// position) are the ones the anomaly names.
func windowOf(n int, named ...int) (window, ops []h.Op) {
	ms := func(x int) int64 { return int64(x) * int64(time.Millisecond) }
	for i := range n {
		inv := h.Op{Index: 2 * i, Process: h.Process(i % 7), Type: h.Invoke, F: h.FWrite, Key: "k", Value: h.Str(fmt.Sprint(i)), Time: ms(1000 + 10*i), Node: "n1"}
		ok := inv.Complete(h.OK)
		ok.Index, ok.Time = 2*i+1, inv.Time+ms(8)
		window = append(window, inv, ok)
		for _, p := range named {
			if p == i {
				ops = append(ops, inv, ok)
			}
		}
	}
	return window, ops
}

// The ops an explanation names lead, one row per op; the window keeps the
// rows nearest them and folds the rest; a fault is shown once, where it
// starts and where it heals, not on every op it overlapped.
func TestAnomalyWindowIsCompact(t *testing.T) {
	window, named := windowOf(60, 10, 40)
	faults := []fault{
		{Pkg: "partition", Desc: "isolate n3: {n1,n2,n4,n5} | {n3}", Nodes: "n1,n2,n3,n4,n5", Start: int64(1200 * time.Millisecond), End: int64(1400 * time.Millisecond)},
		{Pkg: "kill", Desc: "kill n2", Start: 0, End: int64(1100 * time.Millisecond)},
		{Pkg: "clock", Desc: "far away", Start: int64(5 * time.Second), End: int64(6 * time.Second)},
	}
	var av anomalyView
	av.addOps(h.Anomaly{Ops: named, Window: window}, faults)

	require.Len(t, av.Named, 2, "one row per named op, invocation and completion together")
	assert.Equal(t, "1.10 s", av.Named[0].Invoked)
	assert.Equal(t, "1.11 s", av.Named[0].Completed)
	assert.Equal(t, "ok", av.Named[0].Outcome)
	assert.Equal(t, "partition", av.Named[1].Fault, "a named op says which fault was under way")

	assert.Equal(t, 60, av.WindowOps)
	assert.Equal(t, 60-maxWindowRows, av.Folded)
	var shown, folded, gaps int
	var marks []string
	for _, r := range av.Window {
		switch {
		case r.Fault != nil:
			marks = append(marks, r.Fault.Time+" "+r.Fault.What+": "+r.Fault.Text)
		case r.Gap > 0:
			gaps++
			folded += r.Gap
		case r.Op.Fold:
			assert.False(t, r.Op.Named, "named ops never fold")
		default:
			shown++
		}
	}
	assert.Equal(t, maxWindowRows, shown)
	assert.Equal(t, av.Folded, folded, "gap rows account for every folded op")
	assert.Greater(t, gaps, 1, "folded runs before, between and after the named ops")
	assert.Equal(t, []string{
		"0.00 s started before the window: kill n2",
		"1.10 s healed: kill",
		"1.20 s starts: partition: isolate n3: {n1,n2,n4,n5} | {n3} (nodes n1,n2,n3,n4,n5)",
		"1.40 s healed: partition",
	}, marks, "each overlapping fault once; one outside the window not at all")

	// Bands: the ops invoked during the partition carry its colour, no text.
	for _, r := range av.Window {
		if r.Op != nil && r.Op.Index == 2*25 {
			assert.Equal(t, faultColor("partition"), r.Op.Band)
		}
		if r.Op != nil && r.Op.Index == 2*50 {
			assert.Empty(t, r.Op.Band)
		}
	}
}

// A short window shows every op; ops with no window show only themselves.
func TestAnomalyWindowShortAndAbsent(t *testing.T) {
	window, named := windowOf(5, 4)
	var av anomalyView
	av.addOps(h.Anomaly{Ops: named, Window: window}, nil)
	assert.Zero(t, av.Folded)
	assert.Len(t, av.Window, 5)
	assert.True(t, av.Window[4].Op.Named)

	var only anomalyView
	only.addOps(h.Anomaly{Ops: named}, nil)
	assert.Len(t, only.Named, 1)
	assert.Empty(t, only.Window, "no window beyond the named ops")
}

// The page leads each anomaly with its named ops, and its window has no
// per-op fault text: the fixture's stale read falls in a partition, which
// is named once on the window.
func TestReportAnomalyLeadsWithNamedOps(t *testing.T) {
	dir := writeFixture(t, t.TempDir(), invalidFixture())
	page := writeReport(t, dir)
	art := page[strings.Index(page, `<article class="anomaly"`):strings.Index(page, `</article>`)]
	named := art[strings.Index(art, `<table class="ops named">`):strings.Index(art, `<table class="ops window`)]
	assert.Equal(t, 1, strings.Count(named, `<tr class="o-ok">`), "the stale read, one row")
	assert.Less(t, strings.Index(art, `class="ops named"`), strings.Index(art, `class="ops window`), "named ops first")
	assert.Equal(t, 1, strings.Count(art, "isolate n3: {n1,n2,n4,n5} | {n3}"), "the fault's description once")
}

// A transaction shows its micro-ops, with what its reads returned.
func TestAnomalyOpsShowTransactions(t *testing.T) {
	inv := h.Op{Index: 0, Process: 1, Type: h.Invoke, F: h.FTxn, Time: 1e9,
		Txn: []h.Mop{{F: h.MAppend, Key: "x", Value: h.Str("4")}, {F: h.MRead, Key: "x"}}}
	ok := inv.Complete(h.OK)
	ok.Index, ok.Time = 1, 2e9
	ok.Txn[1].List = []string{"1", "4"}
	lines := opLines([]h.Op{inv, ok}, map[int]bool{0: true}, nil)
	require.Len(t, lines, 1)
	assert.Equal(t, `[["append","x","4"],["r","x",["1","4"]]]`, lines[0].Value)
}
