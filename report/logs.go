package report

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// logExcerpt is the part of one node log around the first anomaly.
type logExcerpt struct {
	Node  string
	File  string // relative to the run directory, for the raw link
	Lines []logLine
	Note  string
	// Involved: the node served one of the first anomaly's ops; Open: show
	// the excerpt unfolded.
	Involved, Open bool
}

type logLine struct {
	N    int // 1-based line number
	Text string
	Near bool // within a second of the anomaly
}

// timestampRE finds an RFC 3339 time anywhere in a line: slog's text
// ("time=…") and JSON ("\"time\":\"…\"") handlers both write one.
var timestampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)`)

const (
	logWindow   = 3 * time.Second // each side of the anomaly
	maxLogLines = 40              // per file
	maxLineLen  = 400
)

// nodeLogs lists the files under nodes/<node>/ and, when at is set, cuts
// each one to the lines logged within logWindow of it (wall time
// start+at). Lines without a timestamp go with the last stamped line.
func nodeLogs(dir string, start time.Time, at *int64) []logExcerpt {
	files, _ := filepath.Glob(filepath.Join(dir, harness.NodesDir, "*", "*"))
	sort.Strings(files)
	var out []logExcerpt
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.IsDir() {
			continue
		}
		rel, _ := filepath.Rel(dir, f)
		ex := logExcerpt{Node: filepath.Base(filepath.Dir(f)), File: filepath.ToSlash(rel)}
		if at != nil && !start.IsZero() {
			ex.Lines, ex.Note = excerpt(f, start.Add(time.Duration(*at)))
		}
		out = append(out, ex)
	}
	return out
}

func excerpt(path string, at time.Time) ([]logLine, string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "cannot open: " + err.Error()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var lines []logLine
	var last time.Time
	stamped := false
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if m := timestampRE.FindString(text); m != "" {
			if t, err := time.Parse(time.RFC3339Nano, m); err == nil {
				last, stamped = t, true
			}
		}
		if !stamped {
			continue
		}
		d := last.Sub(at)
		if d < -logWindow || d > logWindow {
			continue
		}
		if len(text) > maxLineLen {
			text = text[:maxLineLen] + "…"
		}
		lines = append(lines, logLine{N: n, Text: text, Near: d >= -time.Second && d <= time.Second})
	}
	if !stamped {
		return nil, "no timestamps found in this log; see the raw file"
	}
	if len(lines) == 0 {
		return nil, "nothing logged within 3 s of the first anomaly"
	}
	if len(lines) > maxLogLines {
		// Keep the lines closest to the anomaly: centre the cut on the first near line.
		c := 0
		for i, l := range lines {
			if l.Near {
				c = i
				break
			}
		}
		lo := max(0, min(c-maxLogLines/2, len(lines)-maxLogLines))
		lines = lines[lo : lo+maxLogLines]
	}
	return lines, ""
}
