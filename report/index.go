package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

var (
	//go:embed index.tmpl
	indexTmpl string
	indexT    = template.Must(template.New("index").Funcs(funcs).Parse(indexTmpl))
)

// IndexFile is the index of all runs, at the top of the results tree.
const IndexFile = "index.html"

type indexRow struct {
	Start    string
	StartKey time.Time
	Test     string
	Verdict  string
	Seed     int64
	Duration string
	Ops      int
	Bug      string
	Workload string
	Nemesis  string
	First    string // the first anomaly, or why the run is not valid
	Link     string // relative to the index
	Dir      string
}

type indexPage struct {
	Root       string
	Rows       []indexRow
	Counts     map[string]int
	Unreadable []string
	Generated  string
	CSS        string
}

// WriteIndex writes resultsRoot/index.html: every run under
// resultsRoot/<test>/<start>/ that has a results.json, newest first.
func WriteIndex(resultsRoot string) error {
	var buf bytes.Buffer
	if err := renderIndex(resultsRoot, &buf); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(resultsRoot, IndexFile), buf.Bytes())
}

func renderIndex(root string, buf *bytes.Buffer) error {
	p, err := scanRuns(root)
	if err != nil {
		return err
	}
	if err := indexT.Execute(buf, p); err != nil {
		return fmt.Errorf("render index of %s: %w", root, err)
	}
	return nil
}

// scanRuns reads every results.json two levels under root. Symlinked
// entries (results/latest) are skipped so no run is listed twice.
func scanRuns(root string) (*indexPage, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("index %s: %w", root, err)
	}
	p := &indexPage{Root: root, Counts: map[string]int{}, CSS: styleCSS,
		Generated: time.Now().UTC().Format(time.RFC3339)}
	tests, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", root, err)
	}
	for _, t := range tests {
		if !t.IsDir() || t.Type()&fs.ModeSymlink != 0 {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(root, t.Name()))
		if err != nil {
			continue
		}
		for _, r := range runs {
			if !r.IsDir() || r.Type()&fs.ModeSymlink != 0 {
				continue
			}
			dir := filepath.Join(root, t.Name(), r.Name())
			res, err := harness.ReadResults(dir)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					p.Unreadable = append(p.Unreadable, filepath.ToSlash(filepath.Join(t.Name(), r.Name())))
				}
				continue
			}
			p.Rows = append(p.Rows, indexRowFor(t.Name(), r.Name(), dir, res))
		}
	}
	sort.Slice(p.Rows, func(i, j int) bool {
		if !p.Rows[i].StartKey.Equal(p.Rows[j].StartKey) {
			return p.Rows[i].StartKey.After(p.Rows[j].StartKey)
		}
		return p.Rows[i].Dir > p.Rows[j].Dir
	})
	for _, r := range p.Rows {
		p.Counts[r.Verdict]++
	}
	return p, nil
}

func indexRowFor(testDir, runDir, dir string, res *harness.Results) indexRow {
	rel := path.Join(testDir, runDir)
	row := indexRow{StartKey: res.Start, Test: res.Test.Name, Verdict: string(res.Verdict), Seed: res.Test.Seed,
		Duration: res.Duration.D().Round(100 * time.Millisecond).String(), Ops: res.Ops, Bug: res.Test.Bug,
		Workload: res.Test.Workload, Nemesis: res.Test.NemesisName(), Dir: rel, Link: rel + "/" + harness.ResultsFile}
	if row.Test == "" {
		row.Test = testDir
	}
	if row.Verdict == "" {
		row.Verdict = string(harness.Unknown)
	}
	if !res.Start.IsZero() {
		row.Start = res.Start.UTC().Format("2006-01-02 15:04:05")
	}
	if _, err := os.Stat(filepath.Join(dir, harness.ReportFile)); err == nil {
		row.Link = rel + "/" + harness.ReportFile
	}
	switch {
	case res.Error != "":
		row.First = "run failed: " + res.Error
	case res.Verdict == harness.Invalid:
		if a := res.FirstAnomaly(); a != nil {
			row.First = a.Explanation
		}
	case res.Verdict != harness.Valid:
		for _, c := range res.Checkers {
			if c.Validity != harness.Valid {
				row.First = c.Checker + ": " + c.Summary
				break
			}
		}
	}
	return row
}

// Handler serves the results tree under resultsRoot for `gauntlet serve`:
// the index is rendered fresh on every request to / (so it lists runs that
// finished since), and a run without report.html gets one rendered on the
// fly. Everything else is served as files; http.Dir keeps requests inside
// resultsRoot.
func Handler(resultsRoot string) http.Handler {
	files := http.FileServer(http.Dir(resultsRoot))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		clean := path.Clean("/" + r.URL.Path)
		var buf bytes.Buffer
		switch {
		case clean == "/" || clean == "/"+IndexFile:
			if err := renderIndex(resultsRoot, &buf); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		case path.Base(clean) == harness.ReportFile && !exists(filepath.Join(resultsRoot, filepath.FromSlash(clean))):
			dir := filepath.Join(resultsRoot, filepath.FromSlash(path.Dir(clean)))
			if !exists(filepath.Join(dir, harness.ResultsFile)) && !exists(filepath.Join(dir, harness.HistoryFile)) {
				http.NotFound(w, r)
				return
			}
			if err := render(r.Context(), dir, &buf); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		default:
			files.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	})
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// firstLine shortens s for a table cell.
func firstLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
