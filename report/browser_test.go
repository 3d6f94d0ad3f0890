package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

// These tests open reports in headless Chromium (Debian package
// "chromium"). Without a browser they skip, unless GAUNTLET_REQUIRE_BROWSER=1
// (CI), where a missing browser is a failure. Screenshots go to
// $GAUNTLET_ARTIFACTS, or to a temporary directory; the path is logged.

func browserPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts one headless browser for a test and its subtests.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	path := browserPath()
	if path == "" {
		msg := "no Chromium found (tried chromium, chromium-browser, google-chrome, headless-shell); install the Debian package chromium"
		if os.Getenv("GAUNTLET_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + " (GAUNTLET_REQUIRE_BROWSER=1)")
		}
		t.Skip(msg)
	}
	profile, err := os.MkdirTemp("", "gauntlet-chromium-")
	require.NoError(t, err)
	t.Cleanup(func() {
		// Chromium's children may write for a moment after it stops.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.UserDataDir(profile),
		chromedp.DisableGPU, chromedp.WindowSize(1400, 1000))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses its sandbox as root
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "start %s", path)
	return ctx
}

func artifactsDir(t testing.TB) string {
	if d := os.Getenv("GAUNTLET_ARTIFACTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// tab is one page with everything it logged.
type tab struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string // console errors, exceptions, dialogs
}

func (tb *tab) add(s string) {
	tb.mu.Lock()
	tb.problems = append(tb.problems, s)
	tb.mu.Unlock()
}

func (tb *tab) Problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.problems...)
}

func openTab(t testing.TB, browser context.Context) *tab {
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelT)
	tb := &tab{ctx: ctx}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				tb.add("console." + string(e.Type) + ": " + strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.add("exception: " + msg)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				tb.add("log error: " + e.Entry.Text + " " + e.Entry.URL)
			}
		case *cdppage.EventJavascriptDialogOpening:
			tb.add("dialog opened: " + e.Message)
			go func() { // a dialog blocks the page until handled
				_, _ = chromedp.Call(ctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}))
	return tb
}

type pageState struct {
	Verdict   string   `json:"verdict"`
	Headline  string   `json:"headline"`
	Anomalies []string `json:"anomalies"`
	Plots     int      `json:"plots"`
	Faults    int      `json:"faults"`
	Lin       int      `json:"lin"`
	TLOps     int      `json:"tlOps"`
	Scripts   int      `json:"scripts"`
	Text      string   `json:"text"`
	Status    string   `json:"status"`
	LoadMS    float64  `json:"loadMS"` // the browser's own clock: navigation start to load end
	FCPMS     float64  `json:"fcp"`    // first contentful paint: the verdict banner is on screen
	Timing    struct {
		// ms: script start, header parsing, inflating the start, first
		// timeline drawing; Ready: when the timeline was drawn, from navigation start
		Start, Parse, Decode, Draw, Ready float64
	} `json:"timing"`
}

const stateJS = `(() => ({
  verdict: document.getElementById('verdict').textContent,
  headline: document.getElementById('headline').textContent,
  anomalies: Array.from(document.querySelectorAll('.anomaly .explain')).map(e => e.textContent),
  plots: document.querySelectorAll('svg.plot').length,
  faults: document.querySelectorAll('svg.plot g.fault').length,
  lin: document.querySelectorAll('iframe.porcupine').length,
  tlOps: document.querySelectorAll('#tl .op').length,
  scripts: document.querySelectorAll('script').length,
  text: document.body.innerText,
  status: document.getElementById('tl-status').textContent,
  loadMS: performance.getEntriesByType('navigation')[0].loadEventEnd,
  timing: window.gauntletTiming,
  fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {startTime: -1}).startTime,
}))()`

// open loads a report and waits until the timeline has drawn; it returns
// the time that took.
func (tb *tab) open(t testing.TB, file string) time.Duration {
	start := time.Now()
	require.NoError(t, chromedp.Do(tb.ctx, chromedp.Navigate("file://"+file)))
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](`document.getElementById('tl-status').textContent !== '' || null`))
	require.NoError(t, err)
	return time.Since(start)
}

func (tb *tab) state(t testing.TB) pageState {
	st, err := chromedp.Run(tb.ctx, chromedp.Evaluate[pageState](stateJS))
	require.NoError(t, err)
	return st
}

// screenshot saves what a reader sees first, and the main sections as
// they scroll into view.
func (tb *tab) screenshot(t testing.TB, name string, sections ...string) {
	dir := artifactsDir(t)
	save := func(suffix string) {
		shot, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		p := filepath.Join(dir, name+suffix+".png")
		require.NoError(t, os.WriteFile(p, shot, 0o644))
		t.Logf("screenshot: %s", p)
	}
	save("")
	for _, s := range sections {
		_, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('`+s+`').scrollIntoView()`))
		require.NoError(t, err)
		// Porcupine's views are inflated and loaded when they come into sight.
		_, err = chromedp.Run(tb.ctx, chromedp.Poll[bool](`Array.from(document.querySelectorAll('iframe.porcupine')).every(f => { const r = f.getBoundingClientRect(); return r.bottom <= 0 || r.top >= innerHeight || f.srcdoc !== '' }) || null`))
		require.NoError(t, err)
		time.Sleep(400 * time.Millisecond) // and drawn
		save("-" + s)
	}
}

// porcupineRendered reports whether porcupine's script drew its SVG inside
// the iframe of the linearization view. Chromium runs a sandboxed iframe as a
// target of its own (site isolation), so the check attaches to it rather
// than reaching into it from the page.
func (tb *tab) porcupineRendered(t *testing.T) bool {
	const drawn = `document.querySelectorAll('#canvas svg rect').length`
	// The view loads when it scrolls into sight.
	_, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('iframe.porcupine').scrollIntoView()`))
	require.NoError(t, err)
	_, err = chromedp.Run(tb.ctx, chromedp.Poll[bool](`document.querySelector('iframe.porcupine').srcdoc !== '' || null`))
	require.NoError(t, err)
	// The iframe's target appears once its document loads (if Chromium
	// isolates it at all): wait for it rather than for a fixed while.
	var frame *target.Info
	for deadline := time.Now().Add(10 * time.Second); frame == nil && time.Now().Before(deadline); {
		infos, err := chromedp.Targets(tb.ctx)
		require.NoError(t, err)
		for _, info := range infos {
			if info.Type == "iframe" && info.URL == "about:srcdoc" {
				frame = info
			}
		}
		if frame == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if info := frame; info != nil {
		fctx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		defer cancel()
		n, err := chromedp.Run(fctx, chromedp.Poll[int](drawn+` || null`, chromedp.WithPollingTimeout(10*time.Second)))
		return err == nil && n > 0
	}
	// Same process: reach in through the iframe element.
	frames, err := chromedp.Run(tb.ctx, chromedp.Nodes(chromedp.CSS("iframe.porcupine")))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	svgs, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#canvas svg"), chromedp.FromNode(frames[0])))
	return err == nil && len(svgs) > 0
}

func TestBrowserReports(t *testing.T) {
	browser := newBrowser(t)
	root := t.TempDir()

	// The checks below rely on seeing console errors, exceptions and
	// dialogs: prove that a page with each is caught.
	t.Run("detects errors", func(t *testing.T) {
		page := filepath.Join(root, "bad.html")
		require.NoError(t, os.WriteFile(page, []byte(`<!doctype html><p id="tl-status">x</p>`+
			`<script>console.error("boom"); alert("xss"); setTimeout(() => { throw new Error("late") }, 0)</script>`), 0o644))
		tb := openTab(t, browser)
		tb.open(t, page)
		require.Eventually(t, func() bool { return len(tb.Problems()) >= 3 }, 10*time.Second, 50*time.Millisecond,
			"caught only %q", tb.Problems())
		all := strings.Join(tb.Problems(), "\n")
		assert.Contains(t, all, "boom")
		assert.Contains(t, all, "dialog opened: xss")
		assert.Contains(t, all, "late")
	})

	t.Run("invalid", func(t *testing.T) { testInvalidPage(t, browser, root) })
	t.Run("long window folds", func(t *testing.T) { testLongWindow(t, browser, root) })

	t.Run("valid", func(t *testing.T) {
		dir := writeFixture(t, root, validFixture())
		require.NoError(t, Write(t.Context(), dir))
		tb := openTab(t, browser)
		tb.open(t, filepath.Join(dir, h.ReportFile))
		st := tb.state(t)
		tb.screenshot(t, "valid")
		assert.Equal(t, "valid", st.Verdict)
		assert.Contains(t, st.Headline, "No violation found")
		assert.Empty(t, st.Anomalies)
		assert.GreaterOrEqual(t, st.Plots, 3)
		assert.Positive(t, st.TLOps)
		assert.Empty(t, tb.Problems())
	})

	t.Run("script in keys and values", func(t *testing.T) {
		dir := writeFixture(t, root, evilFixture())
		require.NoError(t, Write(t.Context(), dir))
		tb := openTab(t, browser)
		tb.open(t, filepath.Join(dir, h.ReportFile))
		st := tb.state(t)
		tb.screenshot(t, "script-injection", "linearization")
		assert.Equal(t, "invalid", st.Verdict)
		assert.Equal(t, 2, st.Scripts, "no script element came from the history")
		assert.Contains(t, st.Text, xss, "the payload is shown as text")
		assert.Contains(t, st.Headline, xss)
		assert.True(t, tb.porcupineRendered(t))
		// Through the timeline's script too.
		_, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('.anomaly a.tl-link').click()`))
		require.NoError(t, err)
		detail, err := chromedp.Run(tb.ctx, chromedp.Poll[string](`(() => { const s = document.getElementById('tl-detail').textContent; return s.startsWith('op #') ? s : null })()`))
		require.NoError(t, err)
		assert.Contains(t, detail, xss)
		// Hover-free check of porcupine's tooltips is not possible here; its
		// states and metadata are escaped in the model (see linearization.go).
		assert.Empty(t, tb.Problems(), "no alert, no error")
	})

	t.Run("packed details", func(t *testing.T) { testPackedDetails(t, browser, root) })

	t.Run("empty run", func(t *testing.T) {
		dir := filepath.Join(root, "empty", "run")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		writeJSON(t, filepath.Join(dir, h.ConfigFile), h.Test{Name: "empty", System: "raft"}.WithDefaults())
		require.NoError(t, os.WriteFile(filepath.Join(dir, h.HistoryFile), nil, 0o644))
		require.NoError(t, Write(t.Context(), dir))
		tb := openTab(t, browser)
		tb.open(t, filepath.Join(dir, h.ReportFile))
		st := tb.state(t)
		assert.Equal(t, "unknown", st.Verdict)
		assert.Equal(t, "no client ops in the history", st.Status)
		assert.Empty(t, tb.Problems())
	})

	t.Run("index", func(t *testing.T) {
		require.NoError(t, WriteIndex(root))
		tb := openTab(t, browser)
		require.NoError(t, chromedp.Do(tb.ctx, chromedp.Navigate("file://"+filepath.Join(root, IndexFile))))
		rows, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#runs tbody tr').length`))
		require.NoError(t, err)
		assert.Equal(t, 3, rows)
		shown, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`(() => {
		  document.querySelector('#filters button[data-verdict="invalid"]').click()
		  return Array.from(document.querySelectorAll('#runs tbody tr')).filter(r => !r.hidden).length })()`))
		require.NoError(t, err)
		assert.Equal(t, 2, shown, "filter by verdict")
		tb.screenshot(t, "index")
		assert.Empty(t, tb.Problems())
	})
}

// testInvalidPage: the invalid run's page says what broke, shades the
// faults, draws porcupine's view, and its anomaly opens the violating op.
func testInvalidPage(t *testing.T, browser context.Context, root string) {
	dir := writeFixture(t, root, invalidFixture())
	require.NoError(t, Write(t.Context(), dir))
	tb := openTab(t, browser)
	took := tb.open(t, filepath.Join(dir, h.ReportFile))
	st := tb.state(t)
	tb.screenshot(t, "invalid", "plots", "linearization", "checkers", "logs")
	t.Logf("opened in %s; timeline: %s", took.Round(time.Millisecond), st.Status)
	assert.True(t, tb.porcupineRendered(t), "porcupine drew the linearization view")

	assert.Equal(t, "invalid", st.Verdict)
	assert.Contains(t, st.Headline, "read of k3 returned 7 at 6.31 s")
	require.Len(t, st.Anomalies, 1)
	assert.Contains(t, st.Anomalies[0], "write k3=9 had completed at 6.10 s")
	assert.GreaterOrEqual(t, st.Plots, 3)
	assert.GreaterOrEqual(t, st.Faults, 3*3, "three fault periods shaded on each plot")
	assert.Equal(t, 1, st.Lin)
	assert.Positive(t, st.TLOps)

	// The anomaly's link opens the violating op in the timeline.
	_, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('.anomaly a.tl-link').click()`))
	require.NoError(t, err)
	detail, err := chromedp.Run(tb.ctx, chromedp.Poll[string](`(() => { const s = document.getElementById('tl-detail').textContent; return s.startsWith('op #') ? s : null })()`))
	require.NoError(t, err)
	assert.Contains(t, detail, "read k3 → 7")
	assert.Contains(t, detail, "node n3")
	tb.screenshot(t, "invalid-timeline-click")
	assert.Empty(t, tb.Problems(), "console errors, exceptions or dialogs")

}

// testLongWindow: an anomaly with a window of 60 ops shows the ones nearest
// its named ops, and the button shows the rest.
func testLongWindow(t *testing.T, browser context.Context, root string) {
	dir := writeFixture(t, root, invalidFixture())
	var res h.Results
	require.NoError(t, harness.ReadJSON(filepath.Join(dir, h.ResultsFile), &res))
	a := &res.Checkers[0].Anomalies[0]
	a.Window, a.Ops = windowOf(60, 30)
	writeJSON(t, filepath.Join(dir, h.ResultsFile), res)
	require.NoError(t, Write(t.Context(), dir))
	tb := openTab(t, browser)
	tb.open(t, filepath.Join(dir, h.ReportFile))
	const visible = `Array.from(document.querySelectorAll('#anomaly-1 table.window tbody tr')).filter(r => r.offsetParent !== null && r.querySelector('a')).length`
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](visible))
	require.NoError(t, err)
	assert.Equal(t, maxWindowRows, n, "folded: the ops nearest the named one")
	_, err = chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#anomaly-1 button.unfold').click()`))
	require.NoError(t, err)
	n, err = chromedp.Run(tb.ctx, chromedp.Evaluate[int](visible))
	require.NoError(t, err)
	assert.Equal(t, 60, n, "unfolded: every op of the window")
	tb.screenshot(t, "long-window")
	assert.Empty(t, tb.Problems())
}

// testPackedDetails: checker details and the one-line anomalies are
// packed; opening them inflates them, as text.
func testPackedDetails(t *testing.T, browser context.Context, root string) {
	dir := writeFixture(t, root, evilFixture())
	var res h.Results
	require.NoError(t, harness.ReadJSON(filepath.Join(dir, h.ResultsFile), &res))
	first := res.Checkers[0].Anomalies[0]
	for i := 2; i <= 8; i++ {
		a := first
		a.Explanation = fmt.Sprintf("anomaly number %d: %s", i, xss)
		res.Checkers[0].Anomalies = append(res.Checkers[0].Anomalies, a)
	}
	writeJSON(t, filepath.Join(dir, h.ResultsFile), res)
	require.NoError(t, Write(t.Context(), dir))
	tb := openTab(t, browser)
	tb.open(t, filepath.Join(dir, h.ReportFile))
	_, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details').forEach(d => { d.open = true })`))
	require.NoError(t, err)
	more, err := chromedp.Run(tb.ctx, chromedp.Poll[[]string](`(() => { const r = Array.from(document.querySelectorAll('details.more tbody tr')).map(tr => tr.textContent); return r.length ? r : null })()`))
	require.NoError(t, err)
	require.Len(t, more, 3, "anomalies 6 to 8, one line each")
	assert.Contains(t, more[0], "anomaly number 6: "+xss)
	assert.Contains(t, more[2], "anomaly number 8")
	links, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('details.more tbody a')).map(a => a.getAttribute('href'))`))
	require.NoError(t, err)
	assert.Contains(t, links, "#lin-0", "a one-line anomaly links its key's view")
	details, err := chromedp.Run(tb.ctx, chromedp.Poll[string](`(() => { const p = document.querySelector('#checkers pre'); return p && p.textContent ? p.textContent : null })()`))
	require.NoError(t, err)
	assert.Contains(t, details, `"note": "`+xss+`"`, "the stats checker's details, as text")
	tb.screenshot(t, "packed-details", "more-anomalies", "checkers")
	assert.Equal(t, 2, tb.state(t).Scripts)
	assert.Empty(t, tb.Problems(), "no alert, no error")

}

// A 100,000-op run's report is at most 5 MB and draws a window of its
// timeline, not every op. How fast it is ready (issue 16's budget: 2 s by the
// page's own clock) is logged here with the machine's load and measured by
// BenchmarkBrowserBigReport, not asserted: a loaded machine is slow, not
// wrong.
func TestBrowserBigReport(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000-op fixture")
	}
	browser := newBrowser(t)
	dir := writeFixture(t, t.TempDir(), bigFixture())
	start := time.Now()
	require.NoError(t, Write(t.Context(), dir))
	wrote := time.Since(start)
	file := filepath.Join(dir, h.ReportFile)
	fi, err := os.Stat(file)
	require.NoError(t, err)
	tb := openTab(t, browser)
	took := tb.open(t, file)
	st := tb.state(t)
	// Scroll through the timeline: each frame draws only what is visible,
	// and inflates the chunks it reaches.
	scroll, err := chromedp.Run(tb.ctx, chromedp.Evaluate[float64](`(() => {
	  const tl = document.getElementById('tl'); const t0 = performance.now()
	  for (let i = 1; i <= 20; i++) { tl.scrollTop = tl.scrollHeight * i / 21; tl.dispatchEvent(new Event('scroll')); document.getElementById('tl-zoom-out').click() }
	  return performance.now() - t0 })()`))
	require.NoError(t, err)
	tb.screenshot(t, "big", "plots", "timeline")
	checkOpDetails(t, tb, dir)
	// The whole run, every chunk inflated: still a window of bars.
	_, err = chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById('tl-fit').click()`))
	require.NoError(t, err)
	whole, err := chromedp.Run(tb.ctx, chromedp.Poll[string](`(() => { const s = document.getElementById('tl-status').textContent; return /\((\d+) of \1 chunks/.test(s) ? s : null })()`))
	require.NoError(t, err)
	tb.screenshot(t, "big-whole")
	t.Logf("100,000 ops: report %.2f MB written in %s; opened (loaded and timeline drawn) in %s wall; by the page's clock: first paint (the verdict) %.0f ms, load event %.0f ms, script started %.0f ms, header parsed in %.0f ms, start inflated in %.0f ms, first window drawn in %.0f ms, timeline ready at %.0f ms; 20 zoom-outs at 20 scroll positions in %.0f ms; %s; whole run: %s; %s",
		float64(fi.Size())/1e6, wrote.Round(time.Millisecond), took.Round(time.Millisecond), st.FCPMS, st.LoadMS, st.Timing.Start,
		st.Timing.Parse, st.Timing.Decode, st.Timing.Draw, st.Timing.Ready, scroll, st.Status, whole, loadAverage())
	assert.LessOrEqual(t, fi.Size(), int64(5e6), "a 100,000-op report is at most 5 MB")
	assert.Equal(t, "valid", st.Verdict)
	assert.GreaterOrEqual(t, st.Plots, 3)
	assert.Positive(t, st.TLOps)
	assert.Less(t, st.TLOps, 20000, "the timeline draws a window, not every op")
	assert.Contains(t, st.Status, "of 100000 ops")
	assert.Empty(t, tb.Problems())
}

// BenchmarkBrowserBigReport opens a 100,000-op report and reports, by the
// page's own clock, when the verdict was painted and the timeline ready
// (budget: 2 s), with the report's size:
//
//	flock /tmp/gauntlet-measure.lock go test ./report -run '^$' -bench BrowserBigReport -benchtime 5x
func BenchmarkBrowserBigReport(b *testing.B) {
	browser := newBrowser(b)
	dir := writeFixture(b, b.TempDir(), bigFixture())
	require.NoError(b, Write(b.Context(), dir))
	file := filepath.Join(dir, h.ReportFile)
	fi, err := os.Stat(file)
	require.NoError(b, err)
	var ready, fcp float64
	for b.Loop() {
		tb := openTab(b, browser)
		tb.open(b, file)
		st := tb.state(b)
		ready += st.Timing.Ready
		fcp += st.FCPMS
	}
	b.ReportMetric(ready/float64(b.N), "ready-ms")
	b.ReportMetric(fcp/float64(b.N), "paint-ms")
	b.ReportMetric(float64(fi.Size())/1e6, "report-MB")
	b.Logf("%s", loadAverage())
}

// checkOpDetails jumps to ops spread over the run (every chunk, the long
// info ops among them) and compares what the page decoded with the history.
func checkOpDetails(t *testing.T, tb *tab, dir string) {
	hist, err := h.ReadHistory(filepath.Join(dir, h.HistoryFile))
	require.NoError(t, err)
	all, _ := ops(hist)
	var pick []op
	for i := 0; i < len(all); i += len(all) / 7 {
		pick = append(pick, all[i])
	}
	for _, o := range all {
		if o.Outcome == outInfo {
			pick = append(pick, o)
			break
		}
	}
	pick = append(pick, all[len(all)-1])
	for _, o := range pick {
		_, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`window.location.hash = '#op-%d'`, o.Index)))
		require.NoError(t, err)
		want := fmt.Sprintf("op #%d (completion #%d) · process %d · node %s\n%s", o.Index, o.EndIndex, o.Process, o.Node, o.F+" "+o.Key)
		got, err := chromedp.Run(tb.ctx, chromedp.Poll[string](fmt.Sprintf(`(() => { const s = document.getElementById('tl-detail').textContent; return s.startsWith('op #%d ') ? s : null })()`, o.Index)))
		require.NoError(t, err, "op %d", o.Index)
		assert.True(t, strings.HasPrefix(got, want), "op %d: got %q, want %q…", o.Index, got, want)
		if o.Value != nil && (o.F == h.FWrite || o.Outcome == outOK) {
			assert.Contains(t, got, " "+*o.Value+"\n", "op %d: value", o.Index)
		}
		outcome := map[string]string{outOK: "ok", outFail: "fail", outInfo: "info", outPending: "no completion"}[o.Outcome]
		assert.Contains(t, got, "outcome "+outcome+" · invoked ", "op %d", o.Index)
		at := float64(o.Start/1000) / 1e6 // the page has µs
		assert.True(t, strings.Contains(got, fmt.Sprintf("invoked %.2f s", at)) || strings.Contains(got, fmt.Sprintf("invoked %.3f s", at)),
			"op %d invoked at %.6f s: %q", o.Index, at, got)
	}
}

// loadAverage is the first line of /proc/loadavg, for timing figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	return "load average " + strings.Join(strings.Fields(string(b))[:3], " ")
}

// TestBrowserStoredRun opens the report of a real run given by
// GAUNTLET_REPORT_DIR (skipped otherwise), checks that it loads without
// errors and saves screenshots of its sections, for looking at real output:
//
//	GAUNTLET_REPORT_DIR=results/latest GAUNTLET_ARTIFACTS=/tmp/shots go test ./report -run StoredRun -v
func TestBrowserStoredRun(t *testing.T) {
	dir := os.Getenv("GAUNTLET_REPORT_DIR")
	if dir == "" {
		t.Skip("set GAUNTLET_REPORT_DIR to a run directory")
	}
	dir, err := filepath.Abs(dir)
	require.NoError(t, err)
	browser := newBrowser(t)
	start := time.Now()
	require.NoError(t, Write(t.Context(), dir))
	wrote := time.Since(start)
	tb := openTab(t, browser)
	took := tb.open(t, filepath.Join(dir, h.ReportFile))
	st := tb.state(t)
	t.Logf("%s: written in %s, opened in %s; verdict %s; %s", dir, wrote.Round(time.Millisecond), took.Round(time.Millisecond), st.Verdict, st.Status)
	tb.screenshot(t, "stored", "anomalies", "plots", "linearization", "timeline", "checkers", "logs")
	if st.Lin > 0 {
		assert.True(t, tb.porcupineRendered(t))
	}
	assert.Empty(t, tb.Problems())
}
