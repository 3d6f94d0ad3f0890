package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/campaign"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/nemesis"
	"github.com/gauntlet-dev/gauntlet/registry"
)

// campaignFlags are shared by campaign and bench detect.
type campaignFlags struct {
	parallel int
	budget   time.Duration
	junit    string
	dir      string
	out      string
	verbose  bool
}

func (c *campaignFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&c.parallel, "parallel", max(1, runtime.NumCPU()/2), "runs at once (each has its own ports, folders and labels)")
	fs.DurationVar(&c.budget, "budget", 0, "stop starting runs after this long; runs under way finish (0 = none)")
	fs.StringVar(&c.junit, "junit", "", "also write a JUnit XML file here")
	fs.StringVar(&c.dir, "dir", "", "campaign folder; an existing one is resumed (default <out>/campaigns/<name>/<start>)")
	fs.StringVar(&c.out, "out", harness.DefaultOut, "results folder")
	fs.BoolVar(&c.verbose, "v", false, "log warnings of every run")
}

func (c *campaignFlags) options(e *env, name string) campaign.Options {
	dir := c.dir
	if dir == "" {
		dir = filepath.Join(c.out, "campaigns", name, harness.Stamp(time.Now()))
	}
	level := slog.LevelError
	if c.verbose {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	return campaign.Options{
		Dir:      dir,
		Parallel: c.parallel,
		Budget:   c.budget,
		JUnit:    c.junit,
		Run: func(ctx context.Context, t harness.Test) (*harness.Results, error) {
			return registry.Run(ctx, t, registry.RunOptions{Logger: log.With("run", t.Name, "seed", t.Seed),
				Command: func(t harness.Test, _ string) string { return t.CommandLineOf(e.prog()) }})
		},
		Logf: func(f string, args ...any) {
			fmt.Fprintf(e.stdout, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(f, args...))
		},
	}
}

// interruptible cancels ctx on SIGINT/SIGTERM; runs under way tear down.
func interruptible(ctx context.Context, e *env) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigc; ok {
			fmt.Fprintln(e.stderr, "interrupted: runs under way tear down; rerun with the same --dir to resume")
			cancel()
		}
	}()
	return ctx, func() { signal.Stop(sigc); close(sigc); cancel() }
}

func summaryExit(ctx context.Context, sum *campaign.Summary, err error, e *env, what string) int {
	if err != nil {
		fmt.Fprintf(e.stderr, "%s %s: %v\n", e.prog(), what, err)
	}
	switch {
	case sum == nil:
		return harness.ExitRunFail
	case ctx.Err() != nil:
		return harness.ExitInterrupted
	case !sum.Pass:
		return 1
	case err != nil:
		return harness.ExitRunFail
	}
	return 0
}

func cmdCampaign(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && args[0] == "merge" {
		return cmdCampaignMerge(e, args[1:])
	}
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	var cf campaignFlags
	cf.register(fs)
	shardFlag := fs.String("shard", "", "I/N: run only the I-th of N deterministic shares of the matrix (one per machine; join them with: gauntlet campaign merge)")
	fs.Usage = usageFunc(e, fs, "[flags] FILE\n       gauntlet campaign merge [--dir OUT] [--junit FILE] DIR...", "Runs a matrix of tests described by a campaign file (campaigns/*.yaml) and writes\nsummary.json, summary.html (and JUnit XML) in the campaign folder. Exit 0 when every\ncorrect cell is valid and every bug cell caught. merge joins the folders of --shard runs.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		return badArgs(e, "campaign", "want one campaign file, got %d arguments", fs.NArg())
	}
	var shard campaign.Shard
	if *shardFlag != "" {
		var err error
		if shard, err = campaign.ParseShard(*shardFlag); err != nil {
			return badArgs(e, "campaign", "%v", err)
		}
	}
	spec, err := campaign.LoadSpec(fs.Arg(0))
	if err != nil {
		return badArgs(e, "campaign", "%v", err)
	}
	o := cf.options(e, spec.Name)
	if cf.dir == "" && shard.Count > 0 {
		o.Dir += campaign.ShardDir(shard)
	}
	o.Shard = shard
	ctx, stop := interruptible(ctx, e)
	defer stop()
	fmt.Fprintf(e.stdout, "campaign %s: %d runs%s, %d at once, folder %s\n", spec.Name, len(shard.Select(spec.Runs())),
		shardNote(shard, len(spec.Runs())), o.Parallel, o.Dir)
	sum, err := campaign.Execute(ctx, spec, o)
	if sum != nil {
		fmt.Fprintf(e.stdout, "campaign %s: %s (%d runs, %d not started)\nsummary: %s\n", spec.Name, sum.Word(), sum.Runs, sum.NotStarted,
			filepath.Join(o.Dir, "summary.html"))
	}
	return summaryExit(ctx, sum, err, e, "campaign")
}

func shardNote(s campaign.Shard, all int) string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf(" (shard %s of %d in all)", s, all)
}

// cmdCampaignMerge joins shard folders. Exit as a campaign: 0 when every
// cell passed and no run is missing, 1 when a cell failed, 2 when runs are
// missing (never a pass), 64 on folders that are not one campaign's.
func cmdCampaignMerge(e *env, args []string) int {
	fs := flag.NewFlagSet("campaign merge", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder of the merged summary (default <out>/campaigns/<name>/merged-<time>)")
	out := fs.String("out", harness.DefaultOut, "results folder")
	junit := fs.String("junit", "", "also write a JUnit XML file here")
	fs.Usage = usageFunc(e, fs, "[flags] DIR...", "Joins the folders of a campaign's shards (gauntlet campaign --shard I/N) into one\nsummary.json, summary.html and JUnit file, and names the runs no shard finished.\nThe merged folder resumes like any campaign folder: --dir OUT FILE runs what is missing.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if fs.NArg() == 0 {
		return badArgs(e, "campaign merge", "want the shard folders to merge")
	}
	target := *dir
	if target == "" {
		var st campaign.State
		b, err := os.ReadFile(filepath.Join(fs.Arg(0), campaign.StateFile))
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		if err != nil {
			return badArgs(e, "campaign merge", "%s is not a campaign folder: %v", fs.Arg(0), err)
		}
		target = filepath.Join(*out, "campaigns", st.Spec.Name, "merged-"+harness.Stamp(time.Now()))
	}
	sum, err := campaign.Merge(fs.Args(), target, *junit)
	if err != nil {
		return badArgs(e, "campaign merge", "%v", err)
	}
	fmt.Fprintf(e.stdout, "campaign %s: %s (%d runs from %d folders)\nsummary: %s\n", sum.Name, sum.Word(), sum.Runs, fs.NArg(),
		filepath.Join(target, "summary.html"))
	if len(sum.Missing) > 0 {
		fmt.Fprintf(e.stdout, "missing %d runs (no shard finished them; `gauntlet campaign --dir %s FILE` runs them):\n", len(sum.Missing), target)
		for _, k := range sum.Missing {
			fmt.Fprintf(e.stdout, "  %s\n", k)
		}
	}
	switch {
	case !sum.Pass:
		return 1
	case len(sum.Missing) > 0:
		return 2
	}
	return 0
}

func cmdBench(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && args[0] == "reproduce" {
		return cmdReproduce(ctx, e, args[1:])
	}
	if len(args) == 0 || args[0] != "detect" {
		return badArgs(e, "bench", "want `gauntlet bench detect [flags]` or `gauntlet bench reproduce [flags]`")
	}
	fs := flag.NewFlagSet("bench detect", flag.ContinueOnError)
	var cf campaignFlags
	cf.register(fs)
	seeds := fs.Int("seeds", campaign.DefaultDetectSeeds, "seeds per bug and per correct-store cell")
	catch := fs.Int("catch", 2, "stop a bug once caught this many times; 0 = run every seed (catch rates)")
	schedules := fs.String("schedules", campaign.ScheduleDefault, "fault schedules to compare over the same seeds: "+strings.Join(campaign.Schedules(), ", ")+" (random: each bug's catalog packages)")
	bugs := fs.String("bugs", "all", "bugs to benchmark, comma separated (\"none\": only the correct store)")
	controls := fs.Bool("controls", true, "also run the correct store under every schedule, with every workload of its catalog")
	stopEarly := fs.Bool("stop-on-violation", true, "end each run's main phase at its first proven violation (time to violation unchanged; =false runs every main phase to its time limit)")
	simSeeds := fs.Int("sim-seeds", 300, "seeds the deterministic simulation may try per simulation-reach bug")
	simBlackBox := fs.Bool("sim-black-box", false, "also run the simulation-reach bugs black-box (the simulation judges them either way)")
	systems := fs.String("systems", "raft,quorum", "systems whose catalogs are benchmarked")
	timeLimit := fs.Duration("time-limit", 20*time.Second, "time limit of each run")
	nodes := fs.Int("nodes", 5, "cluster size")
	deploy := fs.String("deploy", "local", "deployment")
	fs.Usage = usageFunc(e, fs, "[flags]", "The detection benchmark: every catalog bug with its entry's workload under the default\nfault schedule of gauntlet run (or each of --schedules), and the correct store under the\nsame schedules with every workload of its catalog, for the same seeds. Bugs only the\ndeterministic simulation reaches are judged by it. Exit 1 if a bug is never caught or\nthe correct store is ever judged invalid.")
	if code, stop := parseFlags(e, fs, args[1:]); stop {
		return code
	}
	var ds []campaign.DetectSystem
	for _, name := range strings.Split(*systems, ",") {
		sys, err := registry.System(name, nil, nil)
		if err != nil {
			return badArgs(e, "bench detect", "%v", err)
		}
		dep, err := registry.Deployment(harness.Test{Deploy: *deploy}, nil)
		if err != nil {
			return badArgs(e, "bench detect", "%v", err)
		}
		nems := controlNemeses(sys, dep)
		// The correct store's workload must be one it is linearizable on
		// (the system says, e.g. a leaderless quorum store's cas is not).
		control := "kv"
		if c, ok := sys.(interface{ ControlWorkload() string }); ok {
			control = c.ControlWorkload()
		}
		d := campaign.DetectSystem{Name: name, Bugs: pickBugs(harness.BugsOf(sys), *bugs), Deploy: *deploy, Control: control, Nemeses: nems}
		if sim, ok := sys.(harness.Simulator); ok {
			d.Simulate = sim.Simulate
		}
		if lr, ok := sys.(harness.LeaderReporter); ok {
			d.ReportsLeader = lr.ReportsLeader()
		}
		ds = append(ds, d)
	}
	o := cf.options(e, "detect")
	var scheds []string
	for _, s := range strings.Split(*schedules, ",") {
		if !slices.Contains(campaign.Schedules(), s) {
			return badArgs(e, "bench detect", "--schedules: unknown schedule %q (known: %s)", s, strings.Join(campaign.Schedules(), ", "))
		}
		scheds = append(scheds, s)
	}
	spec := campaign.Spec{Name: "detect", TimeLimit: timeLimit.String(), Nodes: *nodes, StopOnViolation: *stopEarly}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	t0 := time.Now()
	sum, sims, err := campaign.Detect(ctx, campaign.DetectOptions{Systems: ds, Seeds: *seeds, BaseSeed: 1, CatchEnough: *catch,
		AllSeeds: *catch == 0, Schedules: scheds, NoControls: !*controls, SimBlackBox: *simBlackBox, SimSeeds: *simSeeds, Options: o, Spec: spec})
	if sum != nil {
		var table bytes.Buffer
		_ = campaign.WriteDetectTable(&table, sum, sims)
		fmt.Fprintf(&table, "\ndetection benchmark: %s in %s (%d runs, %d not started, %d at once)\n", sum.Word(),
			time.Since(t0).Round(time.Second), sum.Runs, sum.NotStarted, o.Parallel)
		fmt.Fprintln(e.stdout)
		e.stdout.Write(table.Bytes())
		path := filepath.Join(o.Dir, "table.txt")
		if werr := os.WriteFile(path, table.Bytes(), 0o644); werr != nil {
			fmt.Fprintf(e.stderr, "%s bench detect: %v\n", e.prog(), werr)
		}
		fmt.Fprintf(e.stdout, "table: %s\nsummary: %s\n", path, filepath.Join(o.Dir, "summary.html"))
	}
	return summaryExit(ctx, sum, err, e, "bench detect")
}

// pickBugs keeps the bugs named in spec ("all", "none" or a comma list);
// names of other systems' catalogs are simply not there.
func pickBugs(all []harness.Bug, spec string) []harness.Bug {
	if spec == "all" {
		return all
	}
	want := strings.Split(spec, ",")
	var out []harness.Bug
	for _, b := range all {
		if slices.Contains(want, b.Name) {
			out = append(out, b)
		}
	}
	return out
}

func cmdShrink(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("shrink", flag.ContinueOnError)
	tries := fs.Int("max-tries", 12, "candidate runs at most")
	out := fs.String("out", "", "where the candidate runs go (default DIR/shrink)")
	fs.Usage = usageFunc(e, fs, "[flags] DIR", "Looks for a smaller configuration of an invalid run that still fails with the same seed\n(fewer fault packages, a shorter time limit, fewer clients) and prints the command.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		return badArgs(e, "shrink", "want one run directory, got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	res, err := harness.ReadResults(dir)
	if err != nil {
		return badArgs(e, "shrink", "%s is not a finished run: %v", dir, err)
	}
	if res.Verdict != harness.Invalid {
		return badArgs(e, "shrink", "%s is %s, not invalid: nothing to shrink", dir, res.Verdict)
	}
	// A run this program cannot make again cannot be shrunk: say so now.
	if _, err := registry.Parts(res.Test, registry.RunOptions{}); err != nil {
		return badArgs(e, "shrink", "cannot shrink %s: its runs cannot be made again here: %v", dir, err)
	}
	where := *out
	if where == "" {
		where = filepath.Join(dir, "shrink")
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	best, tried, err := campaign.Shrink(ctx, res.Test, res.FirstViolation, campaign.ShrinkOptions{
		MaxTries: *tries,
		Run: func(ctx context.Context, t harness.Test) (*harness.Results, error) {
			t.Out = where
			return registry.Run(ctx, t, registry.RunOptions{NoReport: true})
		},
		Logf: func(f string, args ...any) { fmt.Fprintf(e.stdout, f+"\n", args...) },
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stderr, "%s shrink: %v\n", e.prog(), err)
	}
	if ctx.Err() != nil {
		return harness.ExitInterrupted
	}
	ran := 0
	for _, tr := range tried {
		if tr.Verdict != "" {
			ran++
		}
	}
	if ran == 0 {
		fmt.Fprintf(e.stderr, "%s shrink: could not shrink %s: none of %d candidates could be run\n", e.prog(), dir, len(tried))
		return harness.ExitRunFail
	}
	if best.Name == res.Test.Name && best.CommandLine() == res.Test.CommandLine() {
		fmt.Fprintf(e.stdout, "\n%d candidates tried (%d ran); none smaller failed: the run is as small as shrink can make it:\n  %s\n",
			len(tried), ran, res.Test.CommandLineOf(e.prog()))
		return 0
	}
	fmt.Fprintf(e.stdout, "\n%d candidates tried; smallest failing configuration:\n  %s\n", len(tried), best.CommandLineOf(e.prog()))
	return 0
}

// controlNemeses lists the packages the correct store runs under in the
// random schedule: every package a run can name that the deployment can
// make for the system — the random ones, a team's, and those taken by name
// only (pause-leader, power-loss, stutter). The aimed ones belong to the
// aimed schedule's row.
func controlNemeses(sys harness.System, dep harness.Deployment) []string {
	var nems []string
	for _, n := range append(registry.NemesisNames(), nemesis.Targeted()...) {
		ok := true
		if ns, err := registry.Nemeses([]string{n}); err == nil {
			for _, f := range ns[0].Requires() {
				ok = ok && dep.Supports(sys, f)
			}
		}
		if ok {
			nems = append(nems, n)
		}
	}
	return nems
}
