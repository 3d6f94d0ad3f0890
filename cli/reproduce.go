package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/campaign"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/internal/source"
)

// cmdReproduce is `gauntlet bench reproduce`: every reproducer of the
// registry on the affected and the fixed release with the same seeds; the
// attempts are appended to the history and the table rewritten from it.
func cmdReproduce(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("bench reproduce", flag.ContinueOnError)
	var cf campaignFlags
	cf.register(fs)
	fs.Lookup("dir").Usage = "folder of this set of runs, one subfolder per reproducer; an existing one is resumed (default <out>/reproduce/<start>)"
	reg := fs.String("registry", "campaigns/reproduce.yaml", "the reproduction registry")
	only := fs.String("only", "", "run only the reproducers whose bug contains this")
	seeds := fs.Int("seeds", 0, "runs per release (0 = each entry's seeds)")
	fs.Usage = usageFunc(e, fs, "[flags]", "Runs every known real bug's reproducer (campaigns/reproduce.yaml) on the affected and the\nfixed release with the same seeds, appends the outcome to <out>/reproduce/history.jsonl and\nwrites <out>/reproduce/reproductions.md. --budget is shared equally by the reproducers.\nExit 1 if a fixed release is caught, or a bug expected to be caught is not.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	r, err := campaign.LoadRegistry(*reg)
	if err != nil {
		return badArgs(e, "bench reproduce", "%v", err)
	}
	var todo []campaign.Reproducer
	for _, p := range r.Reproducers {
		if strings.Contains(p.Bug, *only) {
			if *seeds > 0 {
				p.Seeds = *seeds
			}
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return badArgs(e, "bench reproduce", "no reproducer's bug contains %q", *only)
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	base := filepath.Join(cf.out, "reproduce")
	start := time.Now().UTC()
	commit := headCommit()
	// --dir names the folder of this set of runs (an existing one is
	// resumed, as for campaigns); each reproducer gets its own inside.
	runs := cf.dir
	if runs == "" {
		runs = filepath.Join(base, harness.Stamp(start))
	}
	code := 0
	for _, p := range todo {
		spec, err := r.Spec(p)
		if err != nil {
			return badArgs(e, "bench reproduce", "%s: %v", p.Bug, err)
		}
		c := cf
		c.budget = cf.budget / time.Duration(len(todo))
		c.dir = filepath.Join(runs, spec.Name)
		o := c.options(e, spec.Name)
		fmt.Fprintf(e.stdout, "reproduce %s: %d runs (affected and fixed, same seeds), folder %s\n", p.Bug, len(spec.Runs()), o.Dir)
		sum, err := campaign.Execute(ctx, spec, o)
		if err != nil {
			fmt.Fprintf(e.stderr, "%s bench reproduce: %s: %v\n", e.prog(), p.Bug, err)
			code = max(code, 3)
		}
		if sum == nil {
			continue
		}
		as := campaign.Attempts(p, sum, commit, o.Dir, start)
		if err := campaign.AppendHistory(filepath.Join(base, "history.jsonl"), as); err != nil {
			fmt.Fprintf(e.stderr, "%s bench reproduce: history: %v\n", e.prog(), err)
			return 3
		}
		for _, a := range as {
			fmt.Fprintf(e.stdout, "reproduce %s %s: caught %d of %d runs\n", p.Bug, a.Release, a.Catches, a.Runs)
		}
		if as[1].Catches > 0 || (p.Expect == "caught" && as[0].Catches == 0) {
			code = max(code, 1)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := writeReproductionTable(r, base); err != nil {
		fmt.Fprintf(e.stderr, "%s bench reproduce: table: %v\n", e.prog(), err)
		return 3
	}
	fmt.Fprintf(e.stdout, "table: %s\n", filepath.Join(base, "reproductions.md"))
	return code
}

func writeReproductionTable(r *campaign.Registry, base string) error {
	hist, err := campaign.ReadHistory(filepath.Join(base, "history.jsonl"))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Reproductions of known bugs\n\nWritten by `gauntlet bench reproduce` at %s from %s.\n\n",
		time.Now().UTC().Format(time.RFC3339), filepath.Join(base, "history.jsonl"))
	if err := campaign.WriteReproductionTable(&b, r, hist); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(base, "reproductions.md"), b.Bytes(), 0o644)
}

// headCommit is the checkout's commit ("+dirty" with uncommitted changes),
// or "unknown" outside a git checkout.
func headCommit() string {
	dir, err := source.ModuleDir()
	if err != nil {
		return "unknown"
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if exec.Command("git", "-C", dir, "diff", "--quiet", "HEAD").Run() != nil {
		c += "+dirty"
	}
	return c
}
