package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// The linearization view is the page the register checker drew for the
// key during the check (named in its Details.Views), so the report searches
// nothing again. Runs stored before the checker drew per-key pages, and keys
// it did not draw, are redrawn from the history by the checker's own code
// (linearizable.Visualize), with the same register model as the verdict and
// fault annotations. The report only frames it: one sandboxed iframe per
// failing key.

// linView is one failing key's porcupine page.
type linView struct {
	ID      string
	Key     string
	Ops     int
	Clients int
	HTML    string // porcupine's page, for the iframe's srcdoc
	Height  int
}

// linTimeout bounds porcupine's search when it redraws one failing key.
const linTimeout = 10 * time.Second

// noView is storedView's answer for a key the checker chose not to draw
// (too costly): the report does not search for it either.
const noView = "-"

// storedView is the file of the page checker result c drew for key during
// the run (inside dir), noView if it chose not to draw it, or "" if it
// says nothing of the key (runs stored before it drew per-key pages).
func storedView(dir string, c harness.Result, key string) string {
	var d linearizable.Details
	if viewOf(c) != linearizable.View || json.Unmarshal(c.Details, &d) != nil || len(d.Views) != len(d.Drawn) {
		return ""
	}
	for _, k := range d.Undrawn {
		if k == key {
			return noView
		}
	}
	for i, k := range d.Drawn {
		if k == key {
			if rel := relInside(dir, d.Views[i]); rel != "" {
				return filepath.Join(dir, filepath.FromSlash(rel))
			}
		}
	}
	return ""
}

// viewOf is the drawing result c asks for (Result.View). A results.json
// written before results named their views, when the register checker
// called itself "linearizable", gets that checker's view.
func viewOf(c harness.Result) string {
	if c.View == "" && c.Checker == "linearizable" {
		return linearizable.View
	}
	return c.View
}

// linearizationView renders porcupine's view of key (the stored page if
// there is one), or nil when key has no register ops (another workload's
// anomaly).
func linearizationView(id string, h harness.History, all []op, key string, faults []fault, stored string) (*linView, error) {
	procs := map[harness.Process]bool{}
	n := 0
	for _, o := range all {
		if o.Key != key {
			continue
		}
		switch o.F {
		case harness.FRead, harness.FWrite, harness.FCAS:
			procs[o.Process] = true
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	if stored == noView {
		return nil, nil
	}
	var buf bytes.Buffer
	if page, err := os.ReadFile(stored); stored != "" && err == nil {
		buf.Write(page)
	} else {
		// Only this key's ops and the faults: Visualize splits whatever it
		// is given, and a whole history per failing key is slow. Completions
		// carry their invocation's key, so pairs stay whole.
		sub := make(harness.History, 0, 2*n+64)
		for _, o := range h {
			if o.Key == key || o.IsNemesis() {
				sub = append(sub, o)
			}
		}
		if err := linearizable.Visualize(&buf, sub, []string{key}, linearizable.Options{Timeout: linTimeout}); err != nil {
			return nil, fmt.Errorf("linearization view of key %q: %w", key, err)
		}
	}
	// Porcupine draws 45 px per row (processes, then one lane per fault
	// package) below a 45 px legend.
	return &linView{ID: id, Key: key, Ops: n, Clients: len(procs), HTML: buf.String(),
		Height: min(110+45*(len(procs)+len(faultPkgs(faults))), 900)}, nil
}
