package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

func cmdCheck(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	timeout := fs.Duration("check-timeout", 0, "bound of each checker (default: the run's)")
	write := fs.Bool("write", false, "replace the run's results.json (and checker artifacts, report) with the new verdict")
	format := fs.String("format", "gauntlet", "input: gauntlet (a run directory) or jepsen (a history.edn or Jepsen log file; also edn, log)")
	jf := addJepsenFlags(fs)
	out := fs.String("out", harness.DefaultOut, "with --format jepsen: where the imported run, its results and report go")
	fs.Usage = usageFunc(e, fs, "[flags] DIR | --format jepsen [--model M] FILE", "Checks a stored run again with the current checkers. Works on a run whose harness\nwas killed (a torn last line is dropped); a malformed history exits 64 naming the line.\nWith --format jepsen, judges a Jepsen/Knossos history and writes a full report for it.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		return badArgs(e, "check", "want one run directory (or, with --format jepsen, one history file), got %d arguments", fs.NArg())
	}
	if *format != "gauntlet" {
		return checkJepsen(ctx, e, fs.Arg(0), *format, jf, *out, *timeout)
	}
	dir := fs.Arg(0)
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return badArgs(e, "check", "%s is a file, not a run directory: for a Jepsen history use --format jepsen --model M", dir)
	}
	if code, ok := recheckImported(ctx, e, dir, *timeout); ok {
		return code
	}
	res, err := registry.Recheck(ctx, dir, *timeout, *write)
	var se *harness.SyntaxError
	var ce *harness.ConfigError
	switch {
	case errors.As(err, &se):
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), se)
		return harness.ExitUsage
	case errors.As(err, &ce):
		return badArgs(e, "check", "%v", ce.Err)
	case err != nil && res == nil:
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), err)
		return harness.ExitRunFail
	case err != nil:
		fmt.Fprintf(e.stderr, "%s check: %v\n", e.prog(), err)
	}
	if *write {
		registry.WriteReport(ctx, res, nil)
	}
	w := e.stdout
	fmt.Fprintf(w, "verdict: %s   (%d ops checked", res.Verdict, res.Ops)
	if res.Interrupted {
		fmt.Fprint(w, "; the run did not finish, so this is what it recorded")
	}
	fmt.Fprintln(w, ")")
	printCheckers(w, res.Checkers, nil)
	if a := res.FirstAnomaly(); a != nil {
		fmt.Fprintf(w, "first anomaly (%s, at %.2f s): %s\n", a.Checker, time.Duration(a.Time).Seconds(), a.Explanation)
	}
	if res.Verdict == harness.Invalid {
		return harness.ExitInvalid
	}
	return res.Verdict.ExitCode()
}
