package campaign

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// CellSummary aggregates the runs of one cell.
type CellSummary struct {
	Cell    Cell   `json:"cell"`
	Key     string `json:"key"`
	Runs    int    `json:"runs"`
	Valid   int    `json:"valid"`
	Invalid int    `json:"invalid"`
	Unknown int    `json:"unknown"`
	Errors  int    `json:"errors"` // runs that could not be carried out
	// Seconds of test time to the first violating op, over invalid runs.
	MedianDetect *float64  `json:"median_detect_s,omitempty"`
	MaxDetect    *float64  `json:"max_detect_s,omitempty"`
	MedianWall   float64   `json:"median_wall_s"`
	Records      []*Record `json:"records"`
	// Pass: a correct cell is all valid; a bug cell has at least one invalid run.
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
}

// Summary is summary.json.
type Summary struct {
	Name       string        `json:"name"`
	Start      time.Time     `json:"start"`
	Written    time.Time     `json:"written"`
	Cells      []CellSummary `json:"cells"`
	Runs       int           `json:"runs"`
	NotStarted int           `json:"not_started"`
	Pass       bool          `json:"pass"`
	// Missing lists the runs of the matrix no shard finished (merge only).
	Missing []string `json:"missing,omitempty"`
}

// Word is the campaign's verdict in a word: FAIL when a cell failed,
// INCOMPLETE when no cell failed but runs were not started (budget,
// interrupt), else PASS.
func (s *Summary) Word() string {
	switch {
	case !s.Pass:
		return "FAIL"
	case s.NotStarted > 0:
		return "INCOMPLETE"
	}
	return "PASS"
}

// Summarize aggregates a campaign state.
func Summarize(st *State, dir string) *Summary {
	byCell := map[string]*CellSummary{}
	var keys []string
	planned := st.Runs
	if len(planned) == 0 {
		planned = st.Spec.Runs()
	}
	for _, r := range planned {
		k := r.Cell.Key()
		if _, ok := byCell[k]; !ok {
			byCell[k] = &CellSummary{Cell: r.Cell, Key: k}
			keys = append(keys, k)
		}
	}
	for _, rec := range st.Records {
		k := rec.Run.Cell.Key()
		cs, ok := byCell[k]
		if !ok {
			cs = &CellSummary{Cell: rec.Run.Cell, Key: k}
			byCell[k] = cs
			keys = append(keys, k)
		}
		cs.Records = append(cs.Records, rec)
	}
	s := &Summary{Name: st.Spec.Name, Start: st.Start, Written: time.Now(), Pass: true}
	for _, k := range keys {
		cs := byCell[k]
		sort.Slice(cs.Records, func(i, j int) bool { return cs.Records[i].Run.Seed < cs.Records[j].Run.Seed })
		var detect, wall []float64
		for _, r := range cs.Records {
			cs.Runs++
			switch r.Verdict {
			case harness.Valid:
				cs.Valid++
			case harness.Invalid:
				cs.Invalid++
				if r.FirstViolation != nil {
					detect = append(detect, float64(*r.FirstViolation)/1e9)
				}
			case harness.Unknown:
				cs.Unknown++
			default:
				cs.Errors++
			}
			wall = append(wall, r.Wall.D().Seconds())
		}
		if len(detect) > 0 {
			m, x := median(detect), maxf(detect)
			cs.MedianDetect, cs.MaxDetect = &m, &x
		}
		cs.MedianWall = median(wall)
		cs.Pass, cs.Reason = judge(cs)
		if !cs.Pass {
			s.Pass = false
		}
		s.Runs += cs.Runs
		s.Cells = append(s.Cells, *cs)
	}
	return s
}

func judge(cs *CellSummary) (bool, string) {
	switch {
	case cs.Runs == 0:
		return false, "no runs finished"
	case cs.Cell.Bug == "" && cs.Invalid > 0:
		return false, fmt.Sprintf("correct system judged invalid in %d of %d runs (false positive or a real bug)", cs.Invalid, cs.Runs)
	case cs.Cell.Bug == "" && (cs.Unknown > 0 || cs.Errors > 0):
		return false, fmt.Sprintf("%d unknown and %d failed runs: not a pass", cs.Unknown, cs.Errors)
	case cs.Cell.Bug == "":
		return true, fmt.Sprintf("all %d runs valid", cs.Runs)
	case cs.Invalid == 0:
		return false, fmt.Sprintf("bug %s never caught in %d runs", cs.Cell.Bug, cs.Runs)
	default:
		return true, fmt.Sprintf("bug %s caught in %d of %d runs", cs.Cell.Bug, cs.Invalid, cs.Runs)
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func maxf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}

// Write writes summary.json and summary.html into dir.
func (s *Summary) Write(dir string) error {
	if err := harness.WriteJSON(filepath.Join(dir, "summary.json"), s); err != nil {
		return fmt.Errorf("summary.json: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "summary.html"))
	if err != nil {
		return fmt.Errorf("summary.html: %w", err)
	}
	defer f.Close()
	return summaryHTML.Execute(f, s)
}

var summaryHTML = template.Must(template.New("s").Funcs(template.FuncMap{
	"secs": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f s", *p)
	},
	"bug": func(b string) string {
		if b == "" {
			return "none (correct)"
		}
		return b
	},
	"rel": func(r *Record) string { return filepath.ToSlash(r.Dir) + "/report.html" },
	// told: the runs with something to say in words (an anomaly, or why
	// they could not run), shown under their cell's row.
	"told": func(rs []*Record) []*Record {
		var out []*Record
		for _, r := range rs {
			if r.Anomaly != "" || r.Verdict == "" {
				out = append(out, r)
			}
		}
		return out
	},
	"word": verdictWord,
}).Parse(`<!doctype html><html><head><meta charset="utf-8"><title>campaign {{.Name}}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
.pass{background:#e6f4ea}.fail{background:#fce8e6}tr.told td{border-top:none;font-size:90%}tr.told ul{margin:0;padding-left:1.2em}.v{color:#137333}.i{color:#c5221f;font-weight:bold}.u{color:#b06000}h1 span{font-size:70%}</style></head><body>
<h1>Campaign {{.Name}} <span class="{{if not .Pass}}i{{else if .NotStarted}}u{{else}}v{{end}}">{{.Word}}</span></h1>
<p>Started {{.Start.Format "2006-01-02 15:04:05"}}, {{.Runs}} runs finished{{if .NotStarted}}, {{.NotStarted}} not started (budget or interrupt){{end}}.</p>
{{with .Missing}}<p class="u">Missing runs (no shard finished them): {{range .}}<code>{{.}}</code> {{end}}</p>{{end}}
<table><tr><th>system</th><th>deploy</th><th>workload</th><th>nemesis</th><th>bug</th><th>options</th><th>runs</th><th>valid</th><th>invalid</th><th>unknown</th><th>errors</th><th>median / max s to first violation</th><th>median wall</th><th>verdict</th><th>runs</th></tr>
{{range .Cells}}{{$cell := .}}<tr class="{{if .Pass}}pass{{else}}fail{{end}}"><td>{{.Cell.System}}</td><td>{{.Cell.Deploy}}</td><td>{{.Cell.Workload}}</td><td>{{.Cell.Nemesis}}</td><td>{{bug .Cell.Bug}}</td><td>{{with .Cell.OptionsString}}{{.}}{{else}}–{{end}}</td>
<td>{{.Runs}}</td><td class="v">{{.Valid}}</td><td class="i">{{.Invalid}}</td><td class="u">{{.Unknown}}</td><td>{{.Errors}}</td><td>{{secs .MedianDetect}} / {{secs .MaxDetect}}</td><td>{{printf "%.1f" .MedianWall}} s</td><td>{{.Reason}}</td>
<td>{{range .Records}}{{if .Dir}}<a href="{{rel .}}" title="{{.Anomaly}}">{{.Run.Seed}}:{{.Verdict}}</a> {{else}}{{.Run.Seed}}:error {{end}}{{end}}</td></tr>
{{with told .Records}}<tr class="told {{if $cell.Pass}}pass{{else}}fail{{end}}"><td></td><td colspan="14"><ul>{{range .}}<li>seed {{.Run.Seed}}, {{word .}}{{if .Anomaly}}: {{.Anomaly}}{{end}}{{if .Dir}} (<a href="{{rel .}}">report</a>){{end}}</li>{{end}}</ul></td></tr>
{{end}}{{end}}</table></body></html>`))

type junitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one test case per cell: a correct cell passes when all
// its runs are valid, a bug cell when at least one run caught the bug.
func (s *Summary) WriteJUnit(path string) error {
	suite := junitSuite{Name: "gauntlet campaign " + s.Name}
	for _, c := range s.Cells {
		var t float64
		var out string
		for _, r := range c.Records {
			t += r.Wall.D().Seconds()
			out += fmt.Sprintf("seed %d: %s %s %s\n", r.Run.Seed, verdictWord(r), r.Dir, r.Anomaly)
		}
		jc := junitCase{Name: c.Key, ClassName: "gauntlet." + c.Cell.System, Time: t, SystemOut: out}
		if !c.Pass {
			jc.Failure = &junitFailure{Message: c.Reason, Text: out}
			suite.Failures++
		}
		suite.Tests++
		suite.Time += t
		suite.Cases = append(suite.Cases, jc)
	}
	data, err := xml.MarshalIndent(suite, "", "  ")
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		_ = os.MkdirAll(dir, 0o755)
	}
	return os.WriteFile(path, append([]byte(xml.Header), data...), 0o644)
}
