// Package cli is the gauntlet command as a library: cmd/gauntlet is Main
// with the built-in targets linked in, and a team's own program can be the
// same command with its own system registered. The command runs Jepsen-style correctness tests: it starts a cluster,
// drives concurrent operations while injecting faults, records the history
// and checks it.
//
//	gauntlet run [flags]        run a test (see gauntlet run -h)
//	gauntlet check DIR          re-check a stored run
//	gauntlet bugs [--system S]  list a system's catalog of injectable bugs
//	gauntlet report DIR         (re)write a run's report.html
//	gauntlet serve [DIR]        serve the results folder over HTTP
//	gauntlet campaign FILE      run a matrix of tests (campaigns/*.yaml)
//	gauntlet bench detect       the detection benchmark over the bug catalogs
//	gauntlet shrink DIR         a smaller configuration of an invalid run
//
// Exit codes: 0 valid, 1 invalid, 2 unknown, 3 the run could not be carried
// out, 64 bad arguments or malformed input, 130 interrupted without finding
// a violation.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	_ "github.com/gauntlet-dev/gauntlet/targets/builtin" // the systems Gauntlet ships register themselves
)

// command is one subcommand; it returns the exit status.
type command struct {
	name, args, help string
	run              func(ctx context.Context, env *env, args []string) int
}

// env is where a command writes; tests give their own.
type env struct {
	stdout, stderr io.Writer
	tty            bool   // stdout is a terminal: live progress
	program        string // the name this command is run by ("gauntlet", or a team's own program)
	signals        <-chan os.Signal
}

func commands() []command {
	return []command{
		{"run", "[flags]", "run a test: cluster, workload, faults, check, report", cmdRun},
		{"check", "[flags] DIR", "re-check a stored run (or, --format jepsen, a Jepsen history)", cmdCheck},
		{"export", "--format jepsen DIR", "write a run's history as Jepsen EDN (for Knossos, Elle)", cmdExport},
		{"bugs", "[--system S]", "list the injectable bugs of the systems", cmdBugs},
		{"report", "DIR", "(re)write report.html of a stored run and the results index", cmdReport},
		{"serve", "[--addr 127.0.0.1:8080] [DIR]", "serve the results folder (default results/)", cmdServe},
		{"campaign", "[flags] FILE | merge DIR...", "run a matrix of tests (campaigns/*.yaml), resumable, shardable, with a summary", cmdCampaign},
		{"bench", "detect|reproduce [flags]", "benchmarks: every catalog bug caught (detect); known real bugs on affected and fixed releases (reproduce)", cmdBench},
		{"shrink", "[flags] DIR", "find a smaller configuration of an invalid run that still fails", cmdShrink},
	}
}

// Main runs the gauntlet command with args (os.Args[1:]) and returns its
// exit status. A program that registered its own systems, workloads or fault
// packages (see package registry) calls it from its main to be the gauntlet
// command with those added:
//
//	func main() { os.Exit(cli.Main(os.Args[1:])) }
func Main(args []string) int {
	return dispatch(context.Background(), newEnv(), args)
}

func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e)
		if len(args) == 0 {
			return harness.ExitUsage
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "%s: unknown command %q (run `%s help`)\n", e.prog(), args[0], e.prog())
	return harness.ExitUsage
}

func usage(e *env) {
	w := e.stdout
	fmt.Fprintf(w, "%s: Jepsen-style correctness tests for distributed systems\n", e.prog())
	fmt.Fprintln(w, "\nusage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s %-8s %-31s %s\n", e.prog(), c.name, c.args, c.help)
	}
	fmt.Fprintln(w, "\nexit codes: 0 valid, 1 invalid, 2 unknown, 3 run failed, 64 bad arguments, 130 interrupted")
}

// parseFlags parses args with one clear message on error. It returns the
// exit status to use and whether to stop.
func parseFlags(e *env, fs *flag.FlagSet, args []string) (int, bool) {
	fs.SetOutput(io.Discard)
	err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		return 0, true
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "%s %s: %v (see `%s %s -h`)\n", e.prog(), fs.Name(), err, e.prog(), fs.Name())
		return harness.ExitUsage, true
	}
	return 0, false
}

// parseInterspersed parses flags wherever they stand among the arguments
// (`gauntlet campaign FILE --budget 2h` as well as `--budget 2h FILE`); after
// "--" everything is an argument. fs.Args() holds the arguments, in order.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // the terminator ended the flags
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// usageFunc prints a command's usage under the program's own name: a
// team's program built on Main says "toyctl shrink", also in the commands
// its help text names.
func usageFunc(e *env, fs *flag.FlagSet, args, help string) func() {
	return func() {
		named := strings.NewReplacer("gauntlet ", e.prog()+" ")
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s %s %s\n\n%s\n\nflags:\n", e.prog(), fs.Name(), named.Replace(args), named.Replace(help))
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		fs.SetOutput(w)
		fmt.Fprint(w, named.Replace(flags.String()))
	}
}

func badArgs(e *env, cmd, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "%s %s: %s\n", e.prog(), cmd, fmt.Sprintf(format, args...))
	return harness.ExitUsage
}
