package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

func cmdCheck(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	timeout := fs.Duration("check-timeout", 0, "bound of each checker (default: the run's)")
	write := fs.Bool("write", false, "replace the run's results.json (and checker artifacts, report) with the new verdict")
	fs.Usage = usageFunc(fs, "[flags] DIR", "Checks a stored run again with the current checkers. Works on a run whose harness\nwas killed (a torn last line is dropped); a malformed history exits 64 naming the line.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		return badArgs(e, "check", "want one run directory, got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	res, err := registry.Recheck(ctx, dir, *timeout, *write)
	var se *harness.SyntaxError
	var ce *harness.ConfigError
	switch {
	case errors.As(err, &se):
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", se)
		return harness.ExitUsage
	case errors.As(err, &ce):
		return badArgs(e, "check", "%v", ce.Err)
	case err != nil && res == nil:
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
		return harness.ExitRunFail
	case err != nil:
		fmt.Fprintf(e.stderr, "gauntlet check: %v\n", err)
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
	for _, c := range res.Checkers {
		fmt.Fprintf(w, "  %-14s %-8s %s\n", c.Checker, c.Validity, c.Summary)
	}
	if a := res.FirstAnomaly(); a != nil {
		fmt.Fprintf(w, "first anomaly (%s, at %.2f s): %s\n", a.Checker, time.Duration(a.Time).Seconds(), a.Explanation)
	}
	if res.Verdict == harness.Invalid {
		return harness.ExitInvalid
	}
	return res.Verdict.ExitCode()
}
