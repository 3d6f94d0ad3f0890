package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/formats/jepsen"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/report"
)

// jepsenFlags are the flags of gauntlet check that --format jepsen uses.
type jepsenFlags struct {
	model, initial, consistency *string
	strict                      *bool
}

func addJepsenFlags(fs *flag.FlagSet) jepsenFlags {
	return jepsenFlags{
		model: fs.String("model", "cas-register", "with --format jepsen: register, cas-register, multi-register, mutex, set, counter, kv-append,\n"+
			"or Elle's transactional models list-append and rw-register"),
		consistency: fs.String("consistency", "", "with --format jepsen --model list-append|rw-register: the consistency model the history is\n"+
			"judged against: "+strings.Join(isolation.Models(), ", ")+"\n(default strict-serializable, Elle's default)"),
		initial: fs.String("initial", "", "with --format jepsen: the registers' value before the first op, in EDN or JSON: 0 for\n"+
			"(cas-register 0), a map such as '{:x 0 :y 0}' or '{\"x\": 0}' for (multi-register {:x 0 :y 0});\n"+
			"default: absent (nil), as Knossos's (cas-register) with no argument"),
		strict: fs.Bool("strict", false, "with --format jepsen: the stats checker's verdict counts too (e.g. \"only 0 ops succeeded\n"+
			"(need 10)\" makes the verdict unknown), as for a live run. Without it the model's verdict\n"+
			"decides (is this history valid under the model?) and stats are shown beside it"),
	}
}

// checkJepsen imports a Jepsen/Knossos history into a run directory of its
// own (history.jsonl, config.json, results.json, report.html) and judges it
// with the checkers of its model, so an imported history gets the same
// report as a native run. The original file is never modified.
func checkJepsen(ctx context.Context, e *env, file, format string, jf jepsenFlags, out string, timeout time.Duration) int {
	model, err := jepsen.ParseModel(*jf.model)
	if err != nil {
		return badArgs(e, "check", "--model: %v", err)
	}
	consistency := ""
	if *jf.consistency != "" {
		if model != jepsen.ListAppend && model != jepsen.RWRegister {
			return badArgs(e, "check", "--consistency applies to --model list-append and rw-register, not %s", model)
		}
		if consistency, err = isolation.ParseConsistency(*jf.consistency); err != nil {
			return badArgs(e, "check", "--consistency: %v", err)
		}
	}
	var init jepsen.Initial
	if *jf.initial != "" {
		if init, err = jepsen.ParseInitial(*jf.initial, model); err != nil {
			return badArgs(e, "check", "%v", err)
		}
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
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), err)
		return harness.ExitUsage
	}
	if timeout <= 0 {
		timeout = harness.DefaultCheckTimeout
	}
	opts := jepsen.CheckOptions{Model: model, Initial: init.Resolve(h), Strict: *jf.strict, Timeout: timeout, Consistency: consistency}
	name := "imported-" + strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	dir, err := harness.NewRunDir(out, name, time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), err)
		return harness.ExitRunFail
	}
	t := harness.Test{Name: name, System: "imported", Deploy: "none", Workload: importedPrefix + string(model),
		CheckTimeout: harness.Duration(timeout), Options: importOptions(file, opts)}
	res := judgeImported(ctx, t, h, dir, opts)
	res.Command = importCommand(file, opts)
	if err := harness.WriteRun(dir, t, h, res); err != nil {
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), err)
		return harness.ExitRunFail
	}
	if err := report.Write(ctx, dir); err != nil {
		fmt.Fprintf(e.stderr, "%s check: report: %v\n", e.prog(), err)
	} else {
		_ = report.WriteIndex(out)
	}
	w := e.stdout
	fmt.Fprintf(w, "verdict: %s   (%d ops of %s, %s, checked in %s)\n", res.Verdict, res.Ops, file, modelText(opts), res.Duration.D().Round(time.Millisecond))
	printImported(w, res, opts.Strict)
	if a := res.FirstAnomaly(); a != nil {
		fmt.Fprintf(w, "first anomaly (%s): %s\n", a.Checker, a.Explanation)
	}
	fmt.Fprintf(w, "results: %s\nreport:  %s\n", dir, filepath.Join(dir, harness.ReportFile))
	return res.Verdict.ExitCode()
}

// modelText says how an import was judged: "model cas-register, initial
// nil"; "model list-append, consistency strict-serializable".
func modelText(o jepsen.CheckOptions) string {
	if o.Model == jepsen.ListAppend || o.Model == jepsen.RWRegister {
		c, _ := isolation.ParseConsistency(o.Consistency)
		return fmt.Sprintf("model %s, consistency %s", o.Model, c)
	}
	return fmt.Sprintf("model %s, initial %s", o.Model, o.Initial)
}

// printImported lists the checkers, saying when stats did not decide.
func printImported(w io.Writer, res *harness.Results, strict bool) {
	printCheckers(w, res.Checkers, func(c harness.Result) string {
		if c.Checker == "stats" && !strict && c.Validity != harness.Valid {
			return "   (shown, not deciding: the model's verdict decides an import; --strict lets stats count)"
		}
		return ""
	})
}

// importOptions records how the import was judged, so that gauntlet check
// DIR judges it the same way.
func importOptions(file string, o jepsen.CheckOptions) map[string]string {
	m := map[string]string{"source": file}
	if o.Initial.Value != nil || len(o.Initial.Regs) > 0 {
		b, _ := json.Marshal(o.Initial)
		m["initial"] = string(b)
	}
	if o.Strict {
		m["strict"] = "true"
	}
	if o.Consistency != "" {
		m["consistency"] = o.Consistency
	}
	return m
}

func importCommand(file string, o jepsen.CheckOptions) string {
	cmd := fmt.Sprintf("gauntlet check --format jepsen --model %s", o.Model)
	if o.Initial.Value != nil || len(o.Initial.Regs) > 0 {
		cmd += fmt.Sprintf(" --initial '%s'", o.Initial)
	}
	if o.Strict {
		cmd += " --strict"
	}
	if o.Consistency != "" {
		cmd += " --consistency " + o.Consistency
	}
	return cmd + " " + file
}

// importedPrefix marks the workload of an imported history: "jepsen-<model>".
const importedPrefix = "jepsen-"

func judgeImported(ctx context.Context, t harness.Test, h harness.History, dir string, o jepsen.CheckOptions) *harness.Results {
	start := time.Now()
	results := harness.Check(ctx, jepsen.Checkers(o), harness.CheckInput{History: h, Dir: dir}, o.Timeout, nil)
	res := &harness.Results{Test: t, Start: start, Checkers: results, Dir: dir}
	res.Judge(h)
	// An import asks whether the history is linearizable under the model:
	// the model's checker decides (jepsen.Verdict), unless --strict.
	res.Verdict = jepsen.Verdict(results, o.Strict)
	for _, op := range h {
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
	t, err := harness.ReadTest(dir)
	if err != nil || !strings.HasPrefix(t.Workload, importedPrefix) {
		return 0, false
	}
	model, err := jepsen.ParseModel(strings.TrimPrefix(t.Workload, importedPrefix))
	if err != nil {
		return badArgs(e, "check", "%s: %v", dir, err), true
	}
	opts := jepsen.CheckOptions{Model: model, Strict: t.Options["strict"] == "true", Timeout: timeout, Consistency: t.Options["consistency"]}
	if s := t.Options["initial"]; s != "" {
		if err := json.Unmarshal([]byte(s), &opts.Initial); err != nil {
			return badArgs(e, "check", "%s: initial %q in %s: %v", dir, s, harness.ConfigFile, err), true
		}
	}
	h, err := harness.ReadHistory(filepath.Join(dir, harness.HistoryFile))
	if err != nil {
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), err)
		return harness.ExitUsage, true
	}
	if opts.Timeout <= 0 {
		opts.Timeout = t.CheckTimeout.D()
	}
	scratch, err := os.MkdirTemp("", "gauntlet-check-")
	if err != nil {
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), err)
		return harness.ExitRunFail, true
	}
	defer os.RemoveAll(scratch)
	res := judgeImported(ctx, t, h, scratch, opts)
	fmt.Fprintf(e.stdout, "verdict: %s   (%d ops, imported history, %s)\n", res.Verdict, res.Ops, modelText(opts))
	printImported(e.stdout, res, opts.Strict)
	return res.Verdict.ExitCode(), true
}

// cmdExport writes a stored run's history as Jepsen EDN on stdout.
func cmdExport(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := fs.String("format", "jepsen", "output format: jepsen (history.edn, one op map per line)")
	fs.Usage = usageFunc(e, fs, "[--format jepsen] DIR", "Writes a stored run's history in another harness's format on stdout,\ne.g. gauntlet export --format jepsen results/latest > history.edn for Knossos or Elle.")
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
			fmt.Fprintf(e.stderr, "%s export: %v\n", e.prog(), se)
			return harness.ExitUsage
		}
		return badArgs(e, "export", "%s is not a run directory: %v", fs.Arg(0), err)
	}
	if err := jepsen.Encode(e.stdout, h); err != nil {
		fmt.Fprintf(e.stderr, "%s export: %v\n", e.prog(), err)
		return harness.ExitRunFail
	}
	return 0
}
