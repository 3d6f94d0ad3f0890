// Package report writes a run's self-contained report.html and the index of
// all runs, and serves the results tree. It reads only what a run left on
// disk (config.json, history.jsonl, results.json, digests.json,
// nodes/<node>/*) and never re-judges: verdicts come from results.json, so a
// stored run can be given new views with `gauntlet report DIR`.
package report

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

var (
	//go:embed report.tmpl
	reportTmpl string
	//go:embed style.css
	styleCSS string
	//go:embed report.js
	reportJS string

	reportT = template.Must(template.New("report").Funcs(funcs).Parse(reportTmpl))
)

var funcs = template.FuncMap{
	"css":        func(s string) template.CSS { return template.CSS(s) },
	"js":         func(s string) template.JS { return template.JS(s) },
	"secs":       secs,
	"num":        groupDigits,
	"faultColor": faultColor,
	"short":      firstLine,
	"add":        func(a, b int) int { return a + b },
}

// Write reads the run in runDir and writes runDir/report.html.
func Write(ctx context.Context, runDir string) error {
	var buf bytes.Buffer
	if err := render(ctx, runDir, &buf); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(runDir, harness.ReportFile), buf.Bytes())
}

// render builds the report of runDir into buf.
func render(ctx context.Context, runDir string, buf *bytes.Buffer) error {
	r, err := loadRun(runDir)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	p, err := build(ctx, r)
	if err != nil {
		return fmt.Errorf("report %s: %w", runDir, err)
	}
	if err := reportT.Execute(buf, p); err != nil {
		return fmt.Errorf("report %s: render: %w", runDir, err)
	}
	return nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// page is what the template renders. Every string in it is user data as far
// as the template is concerned and gets escaped; only Plots (built from
// numbers and escaped text), Data (json.Marshal, which escapes <, > and &)
// and the embedded CSS/JS are trusted. Packed fields (MoreGz, DetailsGz,
// linFrame.Packed) are base64url, which escaping leaves as it is; what they
// hold is put in the page as text (textContent) or in a sandboxed iframe.
type page struct {
	Verdict     string // valid, invalid, unknown
	Headline    string
	Reasons     []string
	Context     string // the faults around the first anomaly
	Test        harness.Test
	Nemesis     string
	Start       string
	Duration    string
	TestTime    string
	Ops         int
	Command     string
	RunError    string
	Interrupted bool
	Missing     []string
	Faults      []fault
	FaultCount  string

	Anomalies []anomalyView // the first maxFullAnomalies, in full
	More      []anomalyView // the rest, one line each
	MoreGz    string        // More packed, for the page's script to list when opened
	Plots     []template.HTML
	Lin       []linFrame
	Locks     []template.HTML // holds of each lock (locks.go)
	LinNote   string
	Checkers  []checkerView
	Counts    []countRow
	Digests   []digestView
	DigestsOK bool
	Logs      []logExcerpt
	LogAt     string
	Raw       []string
	Data      template.JS
	CSS       string
	JS        string
	Generated string
}

type anomalyView struct {
	N           int
	Checker     string
	Key         string
	Explanation string
	Time        string
	TimeNS      int64
	Named       []opLine    // the ops the explanation names
	Window      []windowRow // the ops around them, faults once (see window.go)
	WindowOps   int         // op lines in Window
	Folded      int         // of them, hidden until the window is expanded
	LinID       string
	FirstOp     int           // history index to jump to in the timeline; -1 if none
	Graph       template.HTML // a dependency cycle drawn (cycles.go), built from escaped text
}

type checkerView struct {
	Name      string
	Validity  string
	Summary   string
	Anomalies int
	Artifacts []string
	DetailsGz string // indented JSON, packed: inflated when opened
}

type digestView struct {
	harness.Digest
	Odd bool // differs from the most common digest
}

func build(ctx context.Context, r *run) (*page, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cops, tmax := ops(r.hist)
	faults := faultPeriods(r.hist, tmax)
	p := summary(r, cops, faults)
	if err := p.addAnomalies(r, cops, faults); err != nil {
		return nil, err
	}
	var err error
	if p.Checkers, err = checkerViews(r); err != nil {
		return nil, err
	}
	violation := violationTime(r.res)
	p.Plots = []template.HTML{
		latencyPlot(cops, tmax, faults, violation),
		quantilePlot(cops, tmax, faults, violation),
		throughputPlot(cops, tmax, faults, violation),
	}
	p.Locks = lockViews(r.res, tmax, faults, violation)
	p.Counts = counts(cops)
	p.Digests, p.DigestsOK = digests(r.digests)
	p.Logs = logViews(r, violation)
	if violation != nil {
		p.LogAt = secs(*violation)
	}
	p.Raw = r.rawFiles
	data, err := timelineData(cops, tmax, faults, violation)
	if err != nil {
		return nil, err
	}
	p.Data = template.JS(data)
	return p, nil
}

// summary fills the banner: verdict, headline, the run's facts and the
// faults around the first anomaly.
func summary(r *run, cops []op, faults []fault) *page {
	p := &page{
		Test: r.test, Nemesis: r.test.NemesisName(), Missing: r.missing,
		Faults: faults, Ops: len(cops), CSS: styleCSS, JS: reportJS,
		Generated: time.Now().UTC().Format(time.RFC3339),
	}
	p.FaultCount = faultSummary(faults)
	res := r.res
	if res == nil {
		p.Verdict = string(harness.Unknown)
		p.Headline = "No results.json: the run did not finish, or was not checked. Run `gauntlet check` on this directory."
	} else {
		p.Verdict = string(res.Verdict)
		if p.Verdict == "" {
			p.Verdict = string(harness.Unknown)
		}
		p.Start = res.Start.UTC().Format("2006-01-02 15:04:05 UTC")
		p.Duration = res.Duration.D().Round(time.Millisecond).String()
		p.TestTime = res.TestTime.D().Round(time.Millisecond).String()
		if res.Ops > 0 {
			p.Ops = res.Ops
		}
		p.Command = res.Command
		p.RunError = res.Error
		p.Interrupted = res.Interrupted
		p.Headline, p.Reasons = headline(res, len(cops), p.FaultCount)
		if a := res.FirstAnomaly(); a != nil && res.Verdict == harness.Invalid {
			p.Context = faultContext(faults, a.Time)
		}
	}
	if p.Command == "" && r.test.System != "" {
		p.Command = r.test.CommandLine()
	}
	return p
}

// addAnomalies lists every checker's anomalies, the first maxFullAnomalies
// with their windows, and draws the linearization views of their keys.
func (p *page) addAnomalies(r *run, cops []op, faults []fault) error {
	if r.res == nil {
		return nil
	}
	linIDs := map[string]string{}
	n := 0
	for ci, c := range r.res.Checkers {
		graphs := cycleGraphs(c, ci) // isolation anomalies: their cycles drawn
		for ai, a := range c.Anomalies {
			n++
			if a.Checker == "" {
				a.Checker = c.Checker
			}
			av := anomalyView{N: n, Checker: a.Checker, Key: a.Key, Explanation: a.Explanation,
				Time: secs(a.Time), TimeNS: a.Time, FirstOp: -1}
			if n <= maxFullAnomalies {
				av.addOps(a, faults) // the rest: one line each; the timeline has the ops
				av.Graph = graphs[ai]
			}
			if len(a.Ops) > 0 {
				av.FirstOp = a.Ops[0].Index
			} else if len(a.Window) > 0 {
				av.FirstOp = a.Window[0].Index
			}
			if a.Key != "" && c.Validity == harness.Invalid && len(p.Lin) < maxLinViews {
				id, done := linIDs[a.Key]
				if !done {
					v, err := linFrameOf(fmt.Sprintf("lin-%d", len(linIDs)), r.hist, cops, a.Key, faults, storedView(r.dir, c, a.Key))
					if err != nil {
						return err
					}
					if v != nil {
						id = v.ID
						p.Lin = append(p.Lin, *v)
					}
					linIDs[a.Key] = id
				}
				av.LinID = id
			}
			p.Anomalies = append(p.Anomalies, av)
		}
	}
	if len(linIDs) > maxLinViews {
		p.LinNote = fmt.Sprintf("Views are drawn for the first %d failing keys only.", maxLinViews)
	}
	if len(p.Anomalies) > maxFullAnomalies {
		p.More = p.Anomalies[maxFullAnomalies:]
		p.Anomalies = p.Anomalies[:maxFullAnomalies]
		z, err := packedMore(p.More)
		if err != nil {
			return err
		}
		p.MoreGz = z
	}
	return nil
}

// packedMore packs the one-line anomalies as rows for report.js's
// fillMore: [n, checker, key, time, explanation, first op, view id]. A run
// can have thousands; their explanations repeat and pack tenfold.
func packedMore(more []anomalyView) (string, error) {
	rows := make([][]any, len(more))
	for i, a := range more {
		rows[i] = []any{a.N, a.Checker, a.Key, a.Time, a.Explanation, a.FirstOp, a.LinID}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("anomalies: %w", err)
	}
	return packed(b)
}

// addOps fills in the ops the anomaly names and, when the checker gave a
// window beyond them, the compact window.
func (av *anomalyView) addOps(a harness.Anomaly, faults []fault) {
	named := map[int]bool{}
	for _, o := range a.Ops {
		named[o.Index] = true
	}
	av.Named = opLines(a.Ops, named, faults)
	if len(a.Window) == 0 {
		return
	}
	lines := opLines(a.Window, named, faults)
	if len(lines) <= len(av.Named) {
		return // the window holds nothing the named ops do not
	}
	av.WindowOps = len(lines)
	av.Window, av.Folded = compactWindow(lines, faults)
}

// linFrame is a linearization view as the page embeds it: porcupine's page
// packed (gzip + base64), inflated by the page's script when it scrolls
// into sight; or, when even packed it is over maxLinPacked (a hot key of a
// long run), a note that sends the reader to the checker's own file.
type linFrame struct {
	*linView
	Packed string
	TooBig string
}

// maxLinPacked bounds one embedded view (bytes of base64), so that up to
// maxLinViews of them keep a report within its budget. A variable for tests.
var maxLinPacked = 4 << 20

func linFrameOf(id string, h harness.History, cops []op, key string, faults []fault, stored string) (*linFrame, error) {
	v, err := linearizationView(id, h, cops, key, faults, stored)
	if err != nil || v == nil {
		return nil, err
	}
	z, err := packed([]byte(v.HTML))
	if err != nil {
		return nil, fmt.Errorf("linearization view of key %q: %w", key, err)
	}
	size := len(v.HTML)
	v.HTML = "" // only the packed copy goes into the page
	if len(z) > maxLinPacked {
		return &linFrame{linView: v, TooBig: fmt.Sprintf("Porcupine's view of this key is %.1f MB (%.1f MB packed), too large to embed: "+
			"open the register checker's file (listed under Checkers) for it.", float64(size)/1e6, float64(len(z))/1e6)}, nil
	}
	return &linFrame{linView: v, Packed: z}, nil
}

func checkerViews(r *run) ([]checkerView, error) {
	if r.res == nil {
		return nil, nil
	}
	var out []checkerView
	for _, c := range r.res.Checkers {
		cv := checkerView{Name: c.Checker, Validity: string(c.Validity), Summary: c.Summary, Anomalies: len(c.Anomalies)}
		for _, a := range c.Artifacts {
			if rel := relInside(r.dir, a); rel != "" {
				cv.Artifacts = append(cv.Artifacts, rel)
			}
		}
		if len(c.Details) > 0 {
			var v any
			if json.Unmarshal(c.Details, &v) == nil {
				// Set as text by the page's script: no need to escape <, > and &.
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				_ = enc.Encode(v)
				z, err := packed(b.Bytes())
				if err != nil {
					return nil, fmt.Errorf("details of %s: %w", c.Checker, err)
				}
				cv.DetailsGz = z
			}
		}
		out = append(out, cv)
	}
	return out, nil
}

// logViews cuts the node logs around the first violation; the nodes that
// served the first anomaly's ops come first, unfolded.
func logViews(r *run, violation *int64) []logExcerpt {
	logs := nodeLogs(r.dir, testZero(r.res), violation)
	if a := firstAnomaly(r.res); a != nil {
		involved := map[string]bool{}
		for _, o := range a.Ops {
			involved[o.Node] = true
		}
		for i := range logs {
			logs[i].Involved = involved[logs[i].Node]
			logs[i].Open = logs[i].Involved
		}
		sort.SliceStable(logs, func(i, j int) bool { return logs[i].Involved && !logs[j].Involved })
	}
	if len(logs) > 0 && !slices.ContainsFunc(logs, func(l logExcerpt) bool { return l.Open }) && len(logs[0].Lines) > 0 {
		logs[0].Open = true
	}
	return logs
}

func firstAnomaly(res *harness.Results) *harness.Anomaly {
	if res == nil {
		return nil
	}
	return res.FirstAnomaly()
}

// testZero is the wall time of test time 0 (when the history began), for
// matching node logs to ops. Results.Start is when the run began, before
// setup; phases are timed from test time 0, so setup starts at a negative
// time, and that is the offset.
func testZero(res *harness.Results) time.Time {
	if res == nil || res.Start.IsZero() {
		return time.Time{}
	}
	first := int64(0)
	for _, ph := range res.Phases {
		first = min(first, ph.Start)
	}
	return res.Start.Add(-time.Duration(first))
}

// maxFullAnomalies are shown with their windows; the rest get one line
// each, so a run with hundreds of violations still reads top-down.
const maxFullAnomalies = 5

// maxLinViews bounds how many porcupine pages a report embeds.
const maxLinViews = 3

// headline is the first thing a reader sees: what broke, or why we do not know.
func headline(res *harness.Results, nops int, faults string) (string, []string) {
	var reasons []string
	switch {
	case res.Error != "":
		return "The run could not be carried out: " + res.Error, nil
	case res.Verdict == harness.Invalid:
		if a := res.FirstAnomaly(); a != nil {
			h := a.Checker + ": " + a.Explanation
			if a.Checker == "" {
				h = a.Explanation
			}
			return h, nil
		}
		for _, c := range res.Checkers {
			if c.Validity == harness.Invalid {
				reasons = append(reasons, c.Checker+": "+c.Summary)
			}
		}
		return "Invalid: " + strings.Join(reasons, "; "), nil
	case res.Verdict == harness.Valid:
		var names []string
		for _, c := range res.Checkers {
			names = append(names, c.Checker)
		}
		s := fmt.Sprintf("No violation found in %s ops", groupDigits(nops))
		if len(names) > 0 {
			s += " (checked by " + strings.Join(names, ", ") + ")"
		}
		if faults != "" {
			s += " under " + faults
		} else {
			s += "; no faults were injected"
		}
		return s + ".", nil
	default:
		for _, c := range res.Checkers {
			if c.Validity != harness.Valid {
				reasons = append(reasons, c.Checker+" could not decide: "+c.Summary)
			}
		}
		h := "Unknown: no violation was found, but not everything could be checked. This is not a pass."
		if res.Interrupted {
			h = "Unknown: the run was interrupted. " + h
		}
		return h, reasons
	}
}

// faultContext says which faults were active when the anomaly happened, or
// which one last healed before it: the first clue to what exposed it.
func faultContext(fs []fault, at int64) string {
	var active []string
	var last *fault
	for i, f := range fs {
		if f.Start <= at && at <= f.End {
			active = append(active, fmt.Sprintf("%s (%s – %s%s)", f.Label(), secs(f.Start), secs(f.End), nodesSuffix(f.Nodes)))
		}
		if f.End < at && (last == nil || f.End > last.End) {
			last = &fs[i]
		}
	}
	switch {
	case len(active) > 0:
		return "During: " + strings.Join(active, "; ")
	case last != nil:
		return fmt.Sprintf("No fault was active; the last one, %s, healed at %s.", last.Label(), secs(last.End))
	case len(fs) == 0:
		return "No faults were injected."
	}
	return fmt.Sprintf("No fault was active yet: the first, %s, started at %s.", fs[0].Label(), secs(fs[0].Start))
}

// faultSummary is "partition ×3, kill ×1".
func faultSummary(fs []fault) string {
	n := map[string]int{}
	for _, f := range fs {
		n[f.Pkg]++
	}
	var parts []string
	for _, pkg := range faultPkgs(fs) {
		parts = append(parts, fmt.Sprintf("%s ×%d", pkg, n[pkg]))
	}
	return strings.Join(parts, ", ")
}

func digests(ds []harness.Digest) ([]digestView, bool) {
	count := map[string]int{}
	for _, d := range ds {
		if d.Error == "" {
			count[d.Digest]++
		}
	}
	common, best := "", 0
	for d, n := range count {
		if n > best || (n == best && d < common) {
			common, best = d, n
		}
	}
	out := make([]digestView, len(ds))
	ok := len(ds) > 0
	for i, d := range ds {
		odd := d.Error != "" || d.Digest != common
		// Per-key digests (quorum mode) legitimately differ in the whole-state digest.
		if len(d.Values) > 0 && d.Error == "" {
			odd = false
		}
		out[i] = digestView{Digest: d, Odd: odd}
		if odd {
			ok = false
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, ok
}

func groupDigits(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
