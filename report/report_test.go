package report

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/harness"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

func writeReport(t testing.TB, runDir string) string {
	t.Helper()
	require.NoError(t, Write(context.Background(), runDir))
	b, err := os.ReadFile(filepath.Join(runDir, h.ReportFile))
	require.NoError(t, err)
	return string(b)
}

func TestInvalidReport(t *testing.T) {
	dir := writeFixture(t, t.TempDir(), invalidFixture())
	page := writeReport(t, dir)

	has(t, page, `<span class="verdict" id="verdict">invalid</span>`)
	has(t, page, "read of k3 returned 7 at 6.31 s, but write k3=9 had completed at 6.10 s")
	has(t, page, "gauntlet run --system raft")
	assert.Equal(t, 3, strings.Count(page, `<svg id="plot-`), "three plots")
	has(t, page, "isolate n3: {n1,n2,n4,n5} | {n3}", "fault labelled")
	has(t, page, `<iframe class="porcupine"`)
	has(t, page, `href="#lin-0"`, "anomaly links to the linearization view")
	has(t, page, `id="lin-0"`)
	// Porcupine's page, with the fault lane, is inside the iframe's packed data.
	m := regexp.MustCompile(`data-srcdoc-gz="([^"]*)"`).FindStringSubmatch(page)
	require.NotNil(t, m, "packed porcupine view")
	assert.Contains(t, unpack(t, m[1]), "fault: partition", "fault lane in the porcupine view")
	// The log excerpt is around the violation (6.31 s), and links the raw file.
	has(t, page, "serving read locally")
	has(t, page, `href="nodes/n3/kvnode.log"`)
	has(t, page, `href="linearizability.html"`)
	// No external resources: the page works offline.
	assert.Empty(t, regexp.MustCompile(`(?i)(src|href)="https?://[^"]*"`).FindAllString(page, -1), "external resources")
}

// A view too large to embed is replaced by a note naming the checker's file.
func TestReportLinViewTooBig(t *testing.T) {
	defer func(old int) { maxLinPacked = old }(maxLinPacked)
	maxLinPacked = 100
	dir := writeFixture(t, t.TempDir(), invalidFixture())
	page := writeReport(t, dir)
	hasNot(t, page, `<iframe class="porcupine"`)
	has(t, page, `id="lin-0"`, "the anomaly's link still lands on the view's place")
	assert.Regexp(t, `view of this key is [0-9.]+ MB \([0-9.]+ MB packed\), too large to embed`, page)
	has(t, page, `href="linearizability.html"`)
}

func TestValidReport(t *testing.T) {
	dir := writeFixture(t, t.TempDir(), validFixture())
	page := writeReport(t, dir)
	has(t, page, `<span class="verdict" id="verdict">valid</span>`)
	has(t, page, "No violation found in")
	has(t, page, "under partition ×1, kill ×1, pause ×1")
	has(t, page, "No anomalies reported by any checker.")
	assert.Equal(t, 3, strings.Count(page, `<svg id="plot-`))
}

// A run that crashed before results.json still gets a report, marked unknown.
func TestReportWithoutResults(t *testing.T) {
	dir := writeFixture(t, t.TempDir(), validFixture())
	require.NoError(t, os.Remove(filepath.Join(dir, h.ResultsFile)))
	page := writeReport(t, dir)
	has(t, page, `<span class="verdict" id="verdict">unknown</span>`)
	has(t, page, "No results.json")
}

func TestReportMissingDir(t *testing.T) {
	err := Write(context.Background(), filepath.Join(t.TempDir(), "nope"))
	require.Error(t, err)
}

// Keys, values, fault descriptions, options and logs are user data: in the
// page they appear only escaped, and the data block cannot end its script.
func TestReportEscapesHistory(t *testing.T) {
	dir := writeFixture(t, t.TempDir(), evilFixture())
	page := writeReport(t, dir)
	hasNot(t, page, xss)
	hasNot(t, page, "<script>alert")
	hasNot(t, page, "<img src=x")
	assert.Equal(t, 2, strings.Count(strings.ToLower(page), "<script"), "only the data block and the report's script")
	has(t, page, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;")
}

func TestFaultPeriods(t *testing.T) {
	desc := "isolate n3"
	hist := h.History{
		{Index: 0, Process: h.NemesisProcess, Type: h.Info, F: "start-partition", Time: 100},
		{Index: 1, Process: h.NemesisProcess, Type: h.Info, F: "start-partition", Value: &desc, Node: "n3", Time: 110},
		{Index: 2, Process: h.NemesisProcess, Type: h.Info, F: "start-kill", Time: 150},
		{Index: 3, Process: h.NemesisProcess, Type: h.Info, F: "stop-partition", Time: 200},
		{Index: 4, Process: h.NemesisProcess, Type: h.Info, F: "stop-partition", Time: 210},
		{Index: 5, Process: h.NemesisProcess, Type: h.Info, F: "start-partition", Time: 300},
		{Index: 6, Process: h.NemesisProcess, Type: h.Info, F: "stop-kill", Time: 320},
		{Index: 7, Process: 0, Type: h.Invoke, F: "read", Time: 400},
	}
	fs := faultPeriods(hist, 400)
	require.Len(t, fs, 3)
	assert.Equal(t, fault{Pkg: "partition", Desc: desc, Nodes: "n3", Start: 100, End: 210}, fs[0])
	assert.Equal(t, fault{Pkg: "kill", Start: 150, End: 320}, fs[1])
	assert.Equal(t, fault{Pkg: "partition", Start: 300, End: 400, Open: true}, fs[2])

	// Jepsen's bare start/stop, and a start that failed.
	jepsen := h.History{
		{Index: 0, Process: h.NemesisProcess, Type: h.Info, F: "start", Time: 10},
		{Index: 1, Process: h.NemesisProcess, Type: h.Info, F: "stop", Time: 20},
		{Index: 2, Process: h.NemesisProcess, Type: h.Invoke, F: "start-pause", Time: 30},
		{Index: 3, Process: h.NemesisProcess, Type: h.Fail, F: "start-pause", Error: "no such process", Time: 31},
		{Index: 4, Process: h.NemesisProcess, Type: h.Invoke, F: "stop-pause", Time: 40},
	}
	fs = faultPeriods(jepsen, 50)
	require.Len(t, fs, 2)
	assert.Equal(t, fault{Pkg: "nemesis", Start: 10, End: 20}, fs[0])
	assert.Equal(t, fault{Pkg: "pause", Desc: "(failed to start: no such process)", Start: 30, End: 40}, fs[1])
}

// The budget is 10 s to write a 100,000-op report; the figure is
// logged, not asserted, since this machine is shared.
func TestBigReportWriteTime(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-op fixture")
	}
	dir := writeFixture(t, t.TempDir(), bigFixture())
	cpu0 := cpuTime()
	start := time.Now()
	require.NoError(t, Write(context.Background(), dir))
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	st, err := os.Stat(filepath.Join(dir, h.ReportFile))
	require.NoError(t, err)
	// CPU time too: on a shared machine wall time mostly measures the neighbours.
	t.Logf("100,000-op report written in %s wall, %s CPU (%.1f MB)", elapsed.Round(time.Millisecond),
		cpu.Round(time.Millisecond), float64(st.Size())/1e6)
}

// unpack reverses packed: what the page's script inflates.
func unpack(t testing.TB, s string) string {
	t.Helper()
	z, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(z))
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(b)
}

// has and hasNot check a page for a string without printing the whole page
// on failure.
func has(t *testing.T, page, s string, msg ...any) bool {
	t.Helper()
	return assert.True(t, strings.Contains(page, s), "page lacks %q %v", s, msg)
}

func hasNot(t *testing.T, page, s string, msg ...any) bool {
	t.Helper()
	return assert.False(t, strings.Contains(page, s), "page has %q %v", s, msg)
}

// An unknown verdict says why, and never reads as a pass.
func TestUnknownReport(t *testing.T) {
	dir := writeFixture(t, t.TempDir(), validFixture())
	var res h.Results
	require.NoError(t, harness.ReadJSON(filepath.Join(dir, h.ResultsFile), &res))
	res.Verdict = h.Unknown
	res.Checkers[0] = h.Result{Checker: linearizable.Name, Validity: h.Unknown, Summary: "timed out after 60s on 3 keys"}
	writeJSON(t, filepath.Join(dir, h.ResultsFile), res)
	page := writeReport(t, dir)
	has(t, page, `<span class="verdict" id="verdict">unknown</span>`)
	has(t, page, "This is not a pass.")
	has(t, page, linearizable.Name+" could not decide: timed out after 60s on 3 keys")
	hasNot(t, page, "No violation found in")
}

// A run that died during setup has a config and an empty history: the
// report still renders (unknown, no plots data), it does not fail.
func TestReportOfEmptyRun(t *testing.T) {
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, h.ConfigFile), h.Test{Name: "t", System: "raft"}.WithDefaults())
	require.NoError(t, os.WriteFile(filepath.Join(dir, h.HistoryFile), nil, 0o644))
	page := writeReport(t, dir)
	has(t, page, `id="verdict">unknown<`)
	has(t, page, "No results.json")
	assert.Equal(t, 3, strings.Count(page, `<svg id="plot-`))
}
