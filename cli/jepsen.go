package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/appendreg"
	"github.com/gauntlet-dev/gauntlet/checkers/counter"
	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/checkers/multiregister"
	"github.com/gauntlet-dev/gauntlet/checkers/set"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/formats/jepsen"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/report"
)

// checkJepsen imports a Jepsen/Knossos history into a run directory of its
// own (history.jsonl, config.json, results.json, report.html) and judges it
// with the checkers of its model, so an imported history gets the same
// report as a native run. The original file is never modified.
func checkJepsen(ctx context.Context, e *env, file, format, modelName, out string, timeout time.Duration) int {
	model, err := jepsen.ParseModel(modelName)
	if err != nil {
		return badArgs(e, "check", "--model: %v", err)
	}
	var f jepsen.Format
	switch format {
	case "jepsen", "auto", "":
	case "edn":
		f = jepsen.FormatEDN
	case "log":
		f = jepsen.FormatLog
	default:
		return badArgs(e, "check", "--format %q: want jepsen (detects EDN or text log), edn, log or gauntlet", format)
	}
	in, err := os.Open(file)
	if err != nil {
		return badArgs(e, "check", "%v", err)
	}
	defer in.Close()
	h, err := jepsen.Decode(in, file, f, model)
	if err != nil {
		var je *jepsen.Error
		if errors.As(err, &je) {
			fmt.Fprintf(e.stderr, "gauntlet check: %v\n", je)
			return harness.ExitUsage
		}
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitUsage
	}
	if timeout <= 0 {
		timeout = harness.DefaultCheckTimeout
	}
	name := "imported-" + strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	dir := filepath.Join(out, name, time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitRunFail
	}
	t := harness.Test{Name: name, System: "imported", Deploy: "none", Workload: importedPrefix + string(model),
		CheckTimeout: harness.Duration(timeout), Options: map[string]string{"source": file}}
	if err := writeJSON(filepath.Join(dir, harness.ConfigFile), t); err != nil {
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitRunFail
	}
	if err := writeHistory(filepath.Join(dir, harness.HistoryFile), h); err != nil {
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitRunFail
	}
	checkers := jepsenCheckers(model, timeout)
	res := judgeImported(ctx, t, h, model, dir, checkers, timeout)
	res.Command = fmt.Sprintf("gauntlet check --format jepsen --model %s %s", model, file)
	if err := writeJSON(filepath.Join(dir, harness.ResultsFile), res); err != nil {
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitRunFail
	}
	if err := report.Write(ctx, dir); err != nil {
		fmt.Fprintf(e.stderr, "gauntlet check: report: %v\n", err)
	} else {
		_ = report.WriteIndex(out)
	}
	w := e.stdout
	fmt.Fprintf(w, "verdict: %s   (%d ops of %s, model %s, checked in %s)\n", res.Verdict, res.Ops, file, model, res.Duration.D().Round(time.Millisecond))
	for _, c := range res.Checkers {
		fmt.Fprintf(w, "  %-14s %-8s %s\n", c.Checker, c.Validity, c.Summary)
	}
	if a := res.FirstAnomaly(); a != nil {
		fmt.Fprintf(w, "first anomaly (%s): %s\n", a.Checker, a.Explanation)
	}
	fmt.Fprintf(w, "results: %s\nreport:  %s\n", dir, filepath.Join(dir, harness.ReportFile))
	return res.Verdict.ExitCode()
}

// importedPrefix marks the workload of an imported history: "jepsen-<model>".
const importedPrefix = "jepsen-"

func jepsenCheckers(model jepsen.Model, timeout time.Duration) []harness.Checker {
	switch model {
	case jepsen.Register, jepsen.CASRegister:
		return []harness.Checker{linearizable.New(linearizable.Options{Timeout: timeout}), stats.New()}
	case jepsen.KVAppend:
		return []harness.Checker{appendreg.New(timeout), stats.New()}
	case jepsen.MultiRegister:
		return []harness.Checker{multiregister.New(timeout)}
	case jepsen.Set:
		return []harness.Checker{set.New()}
	case jepsen.Counter:
		return []harness.Checker{counter.New()}
	}
	return nil
}

func judgeImported(ctx context.Context, t harness.Test, h harness.History, model jepsen.Model, dir string, checkers []harness.Checker, timeout time.Duration) *harness.Results {
	start := time.Now()
	results := harness.Check(ctx, checkers, harness.CheckInput{History: h, Dir: dir}, timeout, nil)
	res := &harness.Results{Test: t, Start: start, Checkers: results, Dir: dir,
		Verdict: harness.Verdict(results), FirstViolation: harness.FirstViolation(results)}
	for _, op := range h {
		if !op.IsNemesis() && op.Type != harness.Invoke {
			res.Ops++
		}
		if op.Time > int64(res.TestTime) {
			res.TestTime = harness.Duration(op.Time)
		}
	}
	res.Duration = harness.Duration(time.Since(start))
	return res
}

// recheckImported judges an imported run again (gauntlet check DIR on a
// directory made by --format jepsen); ok is false if dir is not one.
func recheckImported(ctx context.Context, e *env, dir string, timeout time.Duration) (code int, ok bool) {
	var t harness.Test
	b, err := os.ReadFile(filepath.Join(dir, harness.ConfigFile))
	if err != nil || json.Unmarshal(b, &t) != nil || !strings.HasPrefix(t.Workload, importedPrefix) {
		return 0, false
	}
	model, err := jepsen.ParseModel(strings.TrimPrefix(t.Workload, importedPrefix))
	if err != nil {
		return badArgs(e, "check", "%s: %v", dir, err), true
	}
	h, err := harness.ReadHistory(filepath.Join(dir, harness.HistoryFile))
	if err != nil {
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitUsage, true
	}
	if timeout <= 0 {
		timeout = t.CheckTimeout.D()
	}
	scratch, err := os.MkdirTemp("", "gauntlet-check-")
	if err != nil {
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitRunFail, true
	}
	defer os.RemoveAll(scratch)
	res := judgeImported(ctx, t, h, model, scratch, jepsenCheckers(model, timeout), timeout)
	fmt.Fprintf(e.stdout, "verdict: %s   (%d ops, imported history, model %s)\n", res.Verdict, res.Ops, model)
	for _, c := range res.Checkers {
		fmt.Fprintf(e.stdout, "  %-14s %-8s %s\n", c.Checker, c.Validity, c.Summary)
	}
	return res.Verdict.ExitCode(), true
}

// cmdExport writes a stored run's history as Jepsen EDN on stdout.
func cmdExport(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := fs.String("format", "jepsen", "output format: jepsen (history.edn, one op map per line)")
	fs.Usage = usageFunc(fs, "[--format jepsen] DIR", "Writes a stored run's history in another harness's format on stdout,\ne.g. gauntlet export --format jepsen results/latest > history.edn for Knossos or Elle.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if *format != "jepsen" {
		return badArgs(e, "export", "--format %q: only jepsen is supported", *format)
	}
	if fs.NArg() != 1 {
		return badArgs(e, "export", "want one run directory, got %d arguments", fs.NArg())
	}
	h, err := harness.ReadHistory(filepath.Join(fs.Arg(0), harness.HistoryFile))
	if err != nil {
		var se *harness.SyntaxError
		if errors.As(err, &se) {
			fmt.Fprintf(e.stderr, "gauntlet export: %v\n", se)
			return harness.ExitUsage
		}
		return badArgs(e, "export", "%s is not a run directory: %v", fs.Arg(0), err)
	}
	if err := jepsen.Encode(e.stdout, h); err != nil {
		fmt.Fprintf(e.stderr, "gauntlet export: %v\n", err)
		return harness.ExitRunFail
	}
	return 0
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeHistory(path string, h harness.History) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, op := range h {
		if err := enc.Encode(op); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
