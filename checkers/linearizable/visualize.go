package linearizable

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/budget"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Visualize writes porcupine's view of the given keys of h (when keys is
// empty: the failing keys, first violation first, at most opts.MaxDrawn), with
// the nemesis's fault periods as annotations. For reports that redraw a
// stored run.
func Visualize(w io.Writer, h harness.History, keys []string, opts Options) error {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if len(keys) == 0 {
		var d Details
		if err := json.Unmarshal(Check(context.Background(), h, opts).Details, &d); err != nil {
			return fmt.Errorf("visualize: %w", err)
		}
		max := opts.MaxDrawn
		if max <= 0 {
			max = 5
		}
		for _, k := range d.Invalid {
			if len(keys) < max {
				keys = append(keys, k.Key)
			}
		}
		if len(keys) == 0 {
			return fmt.Errorf("visualize: no key was found not linearizable; name the keys to draw")
		}
	}
	all, _ := split(h, opts)
	byKey := map[string]*keyHist{}
	for _, kh := range all {
		byKey[kh.key] = kh
	}
	var chosen []*keyHist
	for _, k := range keys {
		if kh := byKey[k]; kh != nil {
			chosen = append(chosen, kh)
		}
	}
	if len(chosen) == 0 {
		return fmt.Errorf("visualize: none of the keys %q has read, write or cas ops", keys)
	}
	mem := budget.Start(opts.MemoryBudget)
	defer mem.Stop()
	res, info, _, _ := verbose(opts.Initial, chosen, nil, timeout, mem)
	if mem.Exceeded() && res == porcupine.Unknown {
		return fmt.Errorf("visualize: %s", mem.Reason())
	}
	info.AddAnnotations(faultAnnotations(h))
	return porcupine.Visualize(model(opts.Initial, nil), info, w)
}

// viewDir holds the per-key pages, inside the run directory.
const viewDir = "linearizability"

// view is one drawn key's page, relative to the run directory.
type view struct {
	Key  string
	File string
	Note string // what of the key it shows, if not all
}

func writeVisualization(path string, initial *string, info porcupine.LinearizationInfo, h harness.History) error {
	info.AddAnnotations(faultAnnotations(h))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write visualization: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write visualization: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := porcupine.Visualize(model(initial, nil), info, bw); err != nil {
		f.Close()
		return fmt.Errorf("write visualization %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write visualization %s: %w", path, err)
	}
	return f.Close()
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Linearizability: failing keys</title>
<style>body{font-family:sans-serif;margin:1em}iframe{width:100%;height:70vh;border:1px solid #ccc}</style>
</head><body>
<h1>Porcupine's view of the failing keys</h1>
<p>Each key's longest partial linearizations, with the faults as annotations. Each frame is also a page of its own.</p>
{{range .}}<h2>Key {{.Key}} <small>(<a href="{{.File}}">{{.File}}</a>)</small></h2>
{{if .Note}}<p>Shown: {{.Note}}.</p>{{end}}
<iframe src="{{.File}}" title="key {{.Key}}"></iframe>
{{end}}</body></html>
`))

// writeIndex writes linearizability.html: the per-key pages, framed.
func writeIndex(path string, views []view) error {
	var buf bytes.Buffer
	if err := indexPage.Execute(&buf, views); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

var faultColors = []string{"#f8d7da", "#fff3cd", "#d1ecf1", "#e2d9f3", "#d4edda", "#fde2c8"}

// faultAnnotations turns each fault's start … stop (harness.Op.FaultMark,
// which reads old and Jepsen histories too) into one annotation lane per
// fault package. Each start and stop is an invocation and a completion; the
// period runs from the start's invocation to the stop's completion. A fault
// never stopped lasts to the end of the history; a stop of every package
// (Jepsen's heal) ends every open one.
func faultAnnotations(h harness.History) []porcupine.Annotation {
	var out []porcupine.Annotation
	if len(h) == 0 {
		return nil
	}
	end := h[len(h)-1].Time
	open := map[string]int{} // package -> index in out
	color := map[string]string{}
	lastClosed := map[string]int{}
	for _, op := range h {
		m, ok := op.FaultMark()
		if !ok {
			continue
		}
		if m.Stop && m.Package == "" {
			for name, i := range open {
				out[i].End = op.Time
				delete(open, name)
				lastClosed[name] = i
			}
			continue
		}
		name := m.Package
		if _, ok := color[name]; !ok {
			color[name] = faultColors[len(color)%len(faultColors)]
		}
		desc := ""
		if op.Value != nil {
			desc = *op.Value
		}
		if op.Node != "" {
			desc = strings.TrimSpace(desc + " (nodes " + op.Node + ")")
		}
		if !m.Stop {
			if i, ok := open[name]; ok { // the completion of the same start
				if desc != "" {
					out[i].Details = desc
				}
				continue
			}
			open[name] = len(out)
			delete(lastClosed, name)
			out = append(out, porcupine.Annotation{Tag: "fault: " + name, Start: op.Time, End: end,
				Description: name, Details: desc, BackgroundColor: color[name]})
			continue
		}
		if i, ok := open[name]; ok {
			out[i].End = op.Time
			delete(open, name)
			lastClosed[name] = i
		} else if i, ok := lastClosed[name]; ok { // the completion of the same stop
			out[i].End = op.Time
		}
	}
	return out
}
