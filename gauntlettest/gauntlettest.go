// Package gauntlettest runs Gauntlet tests from `go test`:
//
//	func TestLinearizable(t *testing.T) {
//		gauntlettest.Run(t, harness.Test{
//			System: "raft", Nemesis: []string{"partition", "kill"},
//			TimeLimit: harness.Duration(15 * time.Second), Seed: 1,
//		})
//	}
//
// Zero fields take the harness defaults. A zero Seed takes $GAUNTLET_SEED or
// a random one, logged with the command that replays the run. Results go to
// test.Out, else $GAUNTLET_RESULTS, else a temporary folder that is removed
// when the test passes and kept (and named in the failure) when it fails.
// A kept run folder has its report.html and the index of its results
// folder, as `gauntlet run` writes them.
//
// Deploy: "sim" runs a Go system written against package env (kvnode,
// examples/hashiraft) in the test's own process on a simulated network,
// clock and disk, in a synctest bubble made on the test's *testing.T: a 60 s
// run takes about a second. See docs/simulation.md.
//
// A system of your own is registered with package registry (in an init
// of your test package, say) and named in Test.System. The built-in
// systems are linked in by this package.
//
// Replay: GAUNTLET_REPLAY=<run folder> makes Run, RunExpect and RunCatch
// run that folder's stored test (its seed, schedule and options) instead of
// the one given, once. Every failure prints that command line, with what
// the test needed to run rather than skip: the GAUNTLET_ variables set,
// those it read through Getenv, and the build tags, -race and -timeout it
// was run with.
package gauntlettest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/sim"
	_ "github.com/gauntlet-dev/gauntlet/targets/builtin" // raft, quorum, etcd, exec:FILE
)

// ReplayEnv names a run folder to replay instead of the test given.
const ReplayEnv = "GAUNTLET_REPLAY"

// Run runs test and fails t unless the verdict is valid.
func Run(t testing.TB, test harness.Test) *harness.Results {
	t.Helper()
	return RunExpect(t, test, harness.Valid)
}

// RunExpect runs test and fails t unless the verdict is want; use
// harness.Invalid for a test that must find a bug.
func RunExpect(t testing.TB, test harness.Test, want harness.Validity) *harness.Results {
	t.Helper()
	res, log, err := run(t, test)
	if res.Verdict == want && err == nil {
		t.Logf("gauntlet: verdict %s as expected (%d ops, %s of test time)", res.Verdict, res.Ops, res.TestTime.D().Round(time.Millisecond))
		return res
	}
	registry.WriteReport(context.Background(), res, log) // the folder is kept: it has its report
	t.Fatal(Describe(res, want))
	return res
}

// RunCatch runs test with each seed in turn until one is invalid, and fails
// t if none is: for bugs whose exposure depends on timing as well as on the
// seeded schedule (a buffer lost only if a kill lands before its flush).
func RunCatch(t testing.TB, test harness.Test, seeds ...int64) *harness.Results {
	t.Helper()
	if os.Getenv(ReplayEnv) != "" {
		return RunExpect(t, test, harness.Invalid)
	}
	var res *harness.Results
	for _, s := range seeds {
		test.Seed = s
		r, log, err := run(t, test)
		res = r
		if res.Verdict == harness.Invalid && err == nil {
			t.Logf("gauntlet: seed %d caught it (%d ops, %s of test time)", s, res.Ops, res.TestTime.D().Round(time.Millisecond))
			return res
		}
		registry.WriteReport(context.Background(), res, log)
		t.Logf("gauntlet: seed %d did not catch it:\n%s", s, Describe(res, harness.Invalid))
	}
	t.Fatalf("gauntlet: none of seeds %v was invalid", seeds)
	return res
}

// run carries out one test; a run that could not be carried out fails t.
func run(t testing.TB, test harness.Test) (*harness.Results, *slog.Logger, error) {
	t.Helper()
	test = replayed(t, test)
	if test.Seed == 0 {
		test.Seed = seed(t)
	}
	kept := test.Out != "" || os.Getenv("GAUNTLET_RESULTS") != ""
	if test.Out == "" {
		test.Out = outDir(t)
	}
	test = test.WithDefaults()
	t.Logf("gauntlet: %s, seed %d", test.Name, test.Seed)

	ctx := context.Background()
	if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dl.Deadline(); ok {
			// Leave time for teardown and the failure message.
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
			defer cancel()
		}
	}
	if tt, ok := t.(*testing.T); ok {
		ctx = sim.WithTest(ctx, tt) // --deploy sim makes its bubble on t
	}
	log := slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := registry.Run(ctx, test, registry.RunOptions{Logger: log, NoReport: !kept, Command: replayCommand(t)})
	var ce *harness.ConfigError
	switch {
	case errors.As(err, &ce):
		t.Fatalf("gauntlet: %v", err)
	case res == nil:
		t.Fatalf("gauntlet: the run could not be carried out: %v", err)
	}
	return res, log, err
}

// replayed is the stored test of $GAUNTLET_REPLAY, if set, for a test of the
// same system.
func replayed(t testing.TB, test harness.Test) harness.Test {
	t.Helper()
	dir := os.Getenv(ReplayEnv)
	if dir == "" {
		return test
	}
	stored, err := harness.ReadTest(dir)
	if err != nil {
		t.Fatalf("gauntlet: %s=%s: %v", ReplayEnv, dir, err)
	}
	if test.System != "" && stored.System != test.System {
		t.Fatalf("gauntlet: %s=%s is a run of system %q, but this test runs %q", ReplayEnv, dir, stored.System, test.System)
	}
	t.Logf("gauntlet: replaying %s", dir)
	stored.Out = test.Out
	return stored
}

// replayCommand is the command that replays a run made by this test: the
// same test, from its package's folder, with the run folder to repeat and
// what the test needed (replayEnv, replayFlags).
func replayCommand(t testing.TB) func(harness.Test, string) string {
	pkg, err := os.Getwd()
	if err != nil {
		pkg = "."
	}
	name := rootName(t)
	return func(_ harness.Test, dir string) string {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		env := append(replayEnv(name), ReplayEnv+"="+shellQuote(dir))
		return fmt.Sprintf("cd %s && %s go test -count=1%s -run '^%s$' .", shellQuote(pkg), strings.Join(env, " "), replayFlags(), name)
	}
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t'\"$`\\|&;<>()*?") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Describe says what went wrong: the verdict, the first anomaly in words and
// where the results are.
func Describe(res *harness.Results, want harness.Validity) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gauntlet: verdict %s, want %s", res.Verdict, want)
	if res.Interrupted {
		b.WriteString(" (interrupted)")
	}
	if res.Error != "" {
		fmt.Fprintf(&b, "\nthe run could not be carried out: %s", res.Error)
	}
	for _, c := range res.Checkers {
		fmt.Fprintf(&b, "\n  %-14s %-8s %s", c.Checker, c.Validity, c.Summary)
	}
	if a := res.FirstAnomaly(); a != nil {
		fmt.Fprintf(&b, "\nfirst anomaly (%s, at %.2f s): %s", a.Checker, time.Duration(a.Time).Seconds(), a.Explanation)
	}
	fmt.Fprintf(&b, "\nresults: %s\nreplay:  %s", res.Dir, res.Command)
	return b.String()
}

func seed(t testing.TB) int64 {
	if s := os.Getenv("GAUNTLET_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("GAUNTLET_SEED=%q is not an integer", s)
		}
		return v
	}
	return rand.Int64N(1 << 53)
}

func outDir(t testing.TB) string {
	if d := os.Getenv("GAUNTLET_RESULTS"); d != "" {
		return d
	}
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '\\' {
			return '_'
		}
		return r
	}, t.Name())
	dir, err := os.MkdirTemp("", "gauntlet-"+name+"-")
	if err != nil {
		t.Fatalf("gauntlet: results dir: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}

// tbWriter sends the harness's warnings to the test log.
type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// Getenv is os.Getenv for a variable the test needs (a server binary, a
// switch that turns the test on): its value goes into the replay line that
// a failure prints, so the replay runs the test instead of skipping it.
func Getenv(t testing.TB, name string) string {
	v, ok := os.LookupEnv(name)
	if ok {
		root := rootName(t)
		neededMu.Lock()
		if !slices.Contains(needed[root], name) {
			needed[root] = append(needed[root], name)
		}
		neededMu.Unlock()
	}
	return v
}

var (
	neededMu sync.Mutex
	needed   = map[string][]string{} // top-level test -> variables read through Getenv
)

func rootName(t testing.TB) string { return strings.SplitN(t.Name(), "/", 2)[0] }

// replayEnv is NAME=value for every GAUNTLET_ variable set (but the
// replay's own and the seed, which the stored run fixes) and every
// variable test read through Getenv, sorted.
func replayEnv(test string) []string {
	neededMu.Lock()
	names := slices.Clone(needed[test])
	neededMu.Unlock()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GAUNTLET_") && name != ReplayEnv && name != "GAUNTLET_SEED" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			out = append(out, n+"="+shellQuote(v))
		}
	}
	return out
}

// replayFlags are the go test flags the test binary was run with that
// decide whether and how the test runs: build tags, -race, a -timeout other
// than go test's default.
func replayFlags() string {
	var out []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "-tags" && s.Value != "":
				out = append(out, "-tags="+shellQuote(s.Value))
			case s.Key == "-race" && s.Value == "true":
				out = append(out, "-race")
			}
		}
	}
	if f := flag.Lookup("test.timeout"); f != nil && f.Value.String() != "10m0s" {
		out = append(out, "-timeout="+f.Value.String())
	}
	if len(out) == 0 {
		return ""
	}
	return " " + strings.Join(out, " ")
}
