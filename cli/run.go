package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/nemesis"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// runFlags are the flags of `gauntlet run`; the zero Test fields take the
// harness defaults.
type runFlags struct {
	fs      *flag.FlagSet
	t       harness.Test
	nemesis string
	seed    string
	replay  string
	verbose bool
	opts    map[string]*optionValue
}

// optionValue is a system option as a flag of its declared kind: a Bool
// option is a boolean flag (--etcd-serializable-reads alone means true).
type optionValue struct {
	o registry.Option
	v string
}

func (f *optionValue) String() string {
	if f == nil {
		return ""
	}
	return f.v
}

func (f *optionValue) Set(s string) error {
	if f.o.Kind == registry.Bool {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		s = strconv.FormatBool(b)
	}
	f.v = s
	return nil
}

func (f *optionValue) IsBoolFlag() bool { return f.o.Kind == registry.Bool }

func newRunFlags(e *env) *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("run", flag.ContinueOnError), opts: map[string]*optionValue{}}
	fs := f.fs
	t := &f.t
	fs.StringVar(&t.Name, "name", "", "test name, the results subfolder (default: <system>[-<bug>]-<workload>-<nemesis>)")
	fs.StringVar(&t.System, "system", "raft", "system under test: "+strings.Join(registry.SystemNames(), ", "))
	fs.StringVar(&t.Deploy, "deploy", "local", "deployment: "+strings.Join(registry.Deployments(), ", "))
	fs.StringVar(&t.Hosts, "hosts", "", "--deploy ssh: the hosts file (YAML; see docs/beyond-one-machine.md)")
	fs.StringVar(&t.Workload, "workload", "kv", "workload: "+strings.Join(registry.Workloads(), ", "))
	fs.StringVar(&f.nemesis, "nemesis", "feedback", "fault packages, comma separated, or all / aimed / feedback / none: "+strings.Join(registry.NemesisNames(), ", ")+"; aimed: "+strings.Join(nemesis.Aimed(), ", ")+"; by name only: "+strings.Join(nemesis.Targeted(), ", "))
	durationVar(fs, &t.NemesisInterval, "nemesis-interval", 0, "time between a fault's start and heal, and between faults (default: 2.5 timescales, at least 5s)")
	durationVar(fs, &t.Timescale, "timescale", 0, "the system's failure-detection and election timescale, which every timed fault scales by (default: what the system declares, else 1s)")
	fs.IntVar(&t.Nodes, "nodes", harness.DefaultNodes, "cluster size")
	fs.IntVar(&t.Concurrency, "concurrency", harness.DefaultConcurrency, "client workers, each with one op outstanding; worker w talks to node w mod nodes")
	fs.Float64Var(&t.Rate, "rate", 0, "total ops/s across workers (0 = as fast as the system answers)")
	fs.Float64Var(&t.ReadFraction, "read-fraction", 0, "share of reads in the workload, 0–1 (0 = its default, 0.5); where the workload has cas, cas takes 0.2 or half of the rest if less")
	knobFlags(fs, t)
	durationVar(fs, &t.TimeLimit, "time-limit", harness.DefaultTimeLimit, "length of the main phase (workload + faults)")
	durationVar(fs, &t.RecoveryLimit, "recovery-limit", harness.DefaultRecoveryLimit, "after healing, how long every key may take to be readable again (longer is a finding)")
	durationVar(fs, &t.CheckTimeout, "check-timeout", harness.DefaultCheckTimeout, "bound of each checker; expiry is verdict unknown")
	durationVar(fs, &t.OpTimeout, "op-timeout", harness.DefaultOpTimeout, "bound of one client operation; an unanswered write is info")
	fs.StringVar(&f.seed, "seed", "", "seed of every random choice (default: random, printed)")
	fs.StringVar(&t.Bug, "bug", "", "switch on one bug of the system's catalog (see: gauntlet bugs)")
	fs.StringVar(&t.Out, "out", harness.DefaultOut, "results folder")
	fs.StringVar(&f.replay, "replay", "", "run DIR: repeat a stored run (its config.json; flags given here override)")
	fs.BoolVar(&t.StopOnViolation, "stop-on-violation", false, "end the main phase once an online check proves a violation")
	fs.BoolVar(&f.verbose, "v", false, "log every phase and fault to stderr")
	for _, o := range registry.Options() {
		v := &optionValue{o: o}
		f.opts[o.Name] = v
		help := o.Help
		if o.Default != "" {
			help += " (default " + o.Default + ")"
		}
		fs.Var(v, o.Name, help)
	}
	fs.Usage = usageFunc(e, fs, "[flags]", "Runs a test: starts a cluster, drives the workload while the nemesis injects faults,\nheals, reads every key again, tears down, checks the history and writes the results.\n\nworkloads:\n"+workloadList())
	return f
}

// durationVar is a positive duration flag; def 0 means its default is
// derived, as help says.
func durationVar(fs *flag.FlagSet, d *harness.Duration, name string, def time.Duration, help string) {
	*d = harness.Duration(def)
	if def > 0 {
		help = fmt.Sprintf("%s (default %s)", help, def)
	}
	fs.Func(name, help, func(s string) error {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration like 20s: %w", err)
		}
		if v <= 0 {
			return errors.New("must be positive")
		}
		*d = harness.Duration(v)
		return nil
	})
}

// test resolves the flags into a test; errors are bad arguments.
func (f *runFlags) test() (harness.Test, error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	t := f.t
	if f.fs.NArg() > 0 {
		return t, fmt.Errorf("unexpected argument %q", f.fs.Arg(0))
	}
	if f.replay != "" {
		base, err := loadTest(f.replay)
		if err != nil {
			return t, err
		}
		t = overlay(base, t, set) // flags given explicitly override the stored run
	}
	if set["nemesis"] || f.replay == "" {
		nems, err := registry.ParseNemesis(f.nemesis)
		if err != nil {
			return t, fmt.Errorf("--nemesis: %w", err)
		}
		t.Nemesis = nems
	}
	if set["seed"] {
		s, err := parseSeed(f.seed)
		if err != nil {
			return t, err
		}
		t.Seed = s
	} else if f.replay == "" {
		t.Seed = rand.Int64N(1 << 53) // exact in JSON readers that use doubles
	}
	for k, v := range f.opts {
		if set[k] {
			if t.Options == nil {
				t.Options = map[string]string{}
			}
			t.Options[k] = v.v
		}
	}
	if t.Nodes < 1 {
		return t, fmt.Errorf("--nodes must be at least 1, got %d", t.Nodes)
	}
	if t.Concurrency < 1 {
		return t, fmt.Errorf("--concurrency must be at least 1, got %d", t.Concurrency)
	}
	if t.Rate < 0 {
		return t, fmt.Errorf("--rate must not be negative, got %g", t.Rate)
	}
	return t, nil
}

func parseSeed(s string) (int64, error) {
	var v int64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return 0, fmt.Errorf("--seed must be an integer, got %q", s)
	}
	return v, nil
}

// overlay takes the stored test and the flags set explicitly.
func overlay(base, flags harness.Test, set map[string]bool) harness.Test {
	t := base
	pick := map[string]func(){
		"name":              func() { t.Name = flags.Name },
		"system":            func() { t.System = flags.System },
		"deploy":            func() { t.Deploy = flags.Deploy },
		"hosts":             func() { t.Hosts = flags.Hosts },
		"workload":          func() { t.Workload = flags.Workload },
		"nemesis-interval":  func() { t.NemesisInterval = flags.NemesisInterval },
		"timescale":         func() { t.Timescale = flags.Timescale },
		"nodes":             func() { t.Nodes = flags.Nodes },
		"concurrency":       func() { t.Concurrency = flags.Concurrency },
		"rate":              func() { t.Rate = flags.Rate },
		"read-fraction":     func() { t.ReadFraction = flags.ReadFraction },
		"time-limit":        func() { t.TimeLimit = flags.TimeLimit },
		"recovery-limit":    func() { t.RecoveryLimit = flags.RecoveryLimit },
		"check-timeout":     func() { t.CheckTimeout = flags.CheckTimeout },
		"op-timeout":        func() { t.OpTimeout = flags.OpTimeout },
		"bug":               func() { t.Bug = flags.Bug },
		"stop-on-violation": func() { t.StopOnViolation = flags.StopOnViolation },
	}
	for name, f := range pick {
		if set[name] {
			f()
		}
	}
	overlayKnobs(&t, flags, set)
	t.Out = flags.Out // results go where this command says, not where the stored run went
	return t
}

func loadTest(dir string) (harness.Test, error) {
	t, err := harness.ReadTest(dir)
	if err != nil {
		return t, fmt.Errorf("--replay: %w", err)
	}
	// A steered schedule's choices replace it, so the replay repeats them.
	specs, err := harness.ReplaySpec(dir)
	if err != nil {
		return t, fmt.Errorf("--replay: %w", err)
	}
	for _, s := range specs {
		if i := slices.Index(t.Nemesis, "feedback"); i >= 0 {
			t.Nemesis[i] = s
		}
	}
	return t, nil
}

func cmdRun(ctx context.Context, e *env, args []string) int {
	f := newRunFlags(e)
	if code, stop := parseFlags(e, f.fs, args); stop {
		return code
	}
	t, err := f.test()
	if err != nil {
		return badArgs(e, "run", "%v", err)
	}
	t = t.WithDefaults()

	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	pl := newProgressLine(e.stdout, e.tty)
	log := slog.New(slog.NewTextHandler(pl.logWriter(e.stderr), &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigc := make(chan os.Signal, 3)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	go func() {
		n := 0
		for range sigc {
			n++
			switch n {
			case 1:
				pl.println("interrupted: tearing down the cluster; the history so far is kept (Ctrl-C twice more to abandon)")
				cancel()
			case 2:
				pl.println("still tearing down; one more Ctrl-C abandons it and may leave nodes running")
			default:
				fmt.Fprintf(e.stderr, "%s: abandoned teardown\n", e.prog())
				os.Exit(harness.ExitInterrupted)
			}
		}
	}()

	// Bad names and options are refused before anything is printed or started.
	if _, err := registry.Parts(t, registry.RunOptions{}); err != nil {
		return runConfigError(e, f, err)
	}
	fmt.Fprintf(e.stdout, "%s: %s: %s on %s, %d nodes, workload %s, nemesis %s, %s, seed %d\n",
		e.prog(), t.Name, t.System, t.Deploy, t.Nodes, t.Workload, t.NemesisName(), t.TimeLimit.D(), t.Seed)
	res, err := registry.Run(ctx, t, registry.RunOptions{Logger: log, Progress: pl.update,
		Command: func(t harness.Test, _ string) string { return t.CommandLineOf(e.prog()) }})
	pl.done()
	var ce *harness.ConfigError
	if errors.As(err, &ce) {
		return runConfigError(e, f, err)
	}
	if res == nil {
		fmt.Fprintf(e.stderr, "%s run: %v\n", e.prog(), err)
		return harness.ExitRunFail
	}
	printResults(e, res)
	return res.ExitCode()
}

// runConfigError reports a test that cannot run as configured (exit 64); a
// replay of a system this program does not know names the command that
// made the run.
func runConfigError(e *env, f *runFlags, err error) int {
	var ce *harness.ConfigError
	if errors.As(err, &ce) {
		err = ce.Err
	}
	var unknown *registry.UnknownSystemError
	if errors.As(err, &unknown) && f.replay != "" {
		if orig, rerr := harness.ReadResults(f.replay); rerr == nil && orig.Command != "" {
			return badArgs(e, "run", "%v\nthis run was made by: %s", err, orig.Command)
		}
	}
	return badArgs(e, "run", "%v", err)
}

// printResults says the verdict, the first anomaly in words and where the
// results are.
func printResults(e *env, res *harness.Results) {
	w := e.stdout
	verdict := string(res.Verdict)
	if res.Interrupted {
		verdict += " (interrupted)"
	}
	fmt.Fprintf(w, "\nverdict: %s   (%d ops, %s of test time, %s in all)\n", strings.ToUpper(verdict), res.Ops,
		res.TestTime.D().Round(time.Millisecond), res.Duration.D().Round(time.Second))
	if res.Error != "" {
		fmt.Fprintf(w, "the run could not be carried out: %s\n", firstLine(res.Error))
	}
	printCheckers(w, res.Checkers, nil)
	if a := res.FirstAnomaly(); a != nil {
		fmt.Fprintf(w, "first anomaly (%s, at %.2f s): %s\n", a.Checker, time.Duration(a.Time).Seconds(), a.Explanation)
	}
	if res.Dir != "" {
		fmt.Fprintf(w, "results: %s\n", res.Dir)
		if _, err := os.Stat(filepath.Join(res.Dir, harness.ReportFile)); err == nil {
			fmt.Fprintf(w, "report:  %s\n", filepath.Join(res.Dir, harness.ReportFile))
		}
		fmt.Fprintf(w, "replay:  %s run --replay %s\n", e.prog(), res.Dir)
	}
}

// printCheckers lists each checker's verdict and summary, the columns as
// wide as the longest checker name ("election-safety" included); note, if
// not nil, adds to a checker's line.
func printCheckers(w io.Writer, rs []harness.Result, note func(harness.Result) string) {
	width := 14
	for _, c := range rs {
		width = max(width, len(c.Checker))
	}
	for _, c := range rs {
		extra := ""
		if note != nil {
			extra = note(c)
		}
		fmt.Fprintf(w, "  %-*s %-8s %s%s\n", width, c.Checker, c.Validity, c.Summary, extra)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
