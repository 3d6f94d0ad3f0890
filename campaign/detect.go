package campaign

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// DetectSystem is one system whose bug catalog the detection benchmark covers.
type DetectSystem struct {
	Name    string
	Bugs    []harness.Bug
	Deploy  string
	Control string   // workload for the correct-store runs
	Nemeses []string // every nemesis package, for the correct-store runs
}

// DetectOptions configure the detection benchmark.
type DetectOptions struct {
	Systems     []DetectSystem
	Seeds       int // K seeds per bug and per control cell (default 10)
	BaseSeed    int64
	CatchEnough int // stop a bug once caught this many times (default 2)
	Options     Options
	Spec        Spec // name and per-run overrides (time limit, nodes, …)
}

// DetectRuns lists the benchmark's runs: each bug with its catalog workload
// and faults, and the correct store under every nemesis package.
func DetectRuns(o DetectOptions) []Run {
	if o.Seeds <= 0 {
		o.Seeds = 10
	}
	var cells []Cell
	for _, s := range o.Systems {
		for _, b := range s.Bugs {
			nem := strings.Join(b.Nemesis, ",")
			if nem == "" {
				nem = "none"
			}
			cells = append(cells, Cell{System: s.Name, Deploy: s.Deploy, Workload: b.Workload, Nemesis: nem, Bug: b.Name})
		}
		for _, n := range s.Nemeses {
			cells = append(cells, Cell{System: s.Name, Deploy: s.Deploy, Workload: s.Control, Nemesis: n})
		}
	}
	var runs []Run
	for i := 0; i < o.Seeds; i++ {
		for _, c := range cells {
			runs = append(runs, Run{Cell: c, Seed: o.BaseSeed + int64(i)})
		}
	}
	return runs
}

// Detect runs the detection benchmark and returns its summary; Pass is false
// if any bug was never caught or the correct store was ever judged invalid.
func Detect(ctx context.Context, o DetectOptions) (*Summary, error) {
	if o.CatchEnough <= 0 {
		o.CatchEnough = 2
	}
	caught := map[string]int{}
	opts := o.Options
	opts.Stop = func(r Run, rec *Record) bool {
		if r.Cell.Bug == "" || rec.Verdict != harness.Invalid {
			return false
		}
		caught[r.Cell.Key()]++ // called under the campaign's lock
		return caught[r.Cell.Key()] >= o.CatchEnough
	}
	spec := o.Spec
	if spec.Name == "" {
		spec.Name = "detect"
	}
	return ExecuteRuns(ctx, spec, DetectRuns(o), opts)
}

// WriteDetectTable prints the benchmark's table: per bug, caught/tried and
// time to detection; per system, correct-store runs and false positives.
func WriteDetectTable(w io.Writer, s *Summary) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUG\tMODE\tWORKLOAD\tNEMESIS\tCAUGHT/TRIED\tMEDIAN s TO VIOLATION\tMAX s\tMEDIAN WALL s\tRESULT")
	type ctl struct{ runs, fp, unknown, errors int }
	controls := map[string]*ctl{}
	var order []string
	for _, c := range s.Cells {
		if c.Cell.Bug == "" {
			k := c.Cell.System
			if controls[k] == nil {
				controls[k] = &ctl{}
				order = append(order, k)
			}
			controls[k].runs += c.Runs
			controls[k].fp += c.Invalid
			controls[k].unknown += c.Unknown
			controls[k].errors += c.Errors
			continue
		}
		res := "caught"
		if !c.Pass {
			res = "MISSED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%.1f\t%s\n", c.Cell.Bug, c.Cell.System, c.Cell.Workload, c.Cell.Nemesis,
			c.Invalid, c.Runs, fmtSecs(c.MedianDetect), fmtSecs(c.MaxDetect), c.MedianWall, res)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "CORRECT STORE\tRUNS\tFALSE POSITIVES\tUNKNOWN\tCOULD NOT RUN")
	for _, k := range order {
		c := controls[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", k, c.runs, c.fp, c.unknown, c.errors)
	}
	return tw.Flush()
}

func fmtSecs(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", *p)
}
