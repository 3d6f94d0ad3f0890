// Package registry is the seam through which Gauntlet learns of systems,
// deployments, workloads and fault packages, database/sql style: each is
// registered by name, from the package that defines it, and a
// harness.Test's names are resolved here.
//
// A team tests its own system by registering it from its own module:
//
//	func init() {
//		registry.Register(registry.SystemDef{Name: "toy", New: func(registry.Config) (harness.System, error) {
//			return toy{}, nil
//		}})
//	}
//
// and then runs it from `go test` (package gauntlettest) or from a program of
// its own that calls cli.Main. The built-in targets (targets/kvnode,
// targets/etcd, targets/exec) register themselves exactly so; nothing here
// names a system.
package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/report"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

// DeploymentFunc makes a deployment for test t (its Hosts, say); log is
// the run's logger. An error is a configuration error (exit 64). The
// deployments Gauntlet ships register themselves from their packages
// (deploy/builtin links them all), as systems do.
type DeploymentFunc func(t harness.Test, log harness.Logger) (harness.Deployment, error)

var deployments = map[string]DeploymentFunc{}

// RegisterDeployment adds a deployment (a second of the same name is an
// error, kept like Register's).
func RegisterDeployment(name string, f DeploymentFunc) error {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := deployments[name]; dup || name == "" || f == nil {
		err := fmt.Errorf("deployment %q: registered twice, unnamed or without a function", name)
		regErrs = append(regErrs, err)
		return err
	}
	deployments[name] = f
	return nil
}

// Deployments lists the deployment names.
func Deployments() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(deployments))
	for n := range deployments {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Deployment resolves t's deployment (t.Deploy).
func Deployment(t harness.Test, log harness.Logger) (harness.Deployment, error) {
	mu.Lock()
	f, ok := deployments[t.Deploy]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown deployment %q (known: %s)", t.Deploy, strings.Join(Deployments(), ", "))
	}
	return f(t, log)
}

// RunOptions are what a caller adds to a test's names.
type RunOptions struct {
	Logger   harness.Logger         // nil = silent
	Progress func(harness.Progress) // live progress; nil = none
	// NoReport skips report.html and index.html (they cost a second or two).
	NoReport bool
	// Command, if set, makes the command line that replays a run of t in
	// dir, for results.json and the report (default: t.CommandLine()).
	Command func(t harness.Test, dir string) string
}

// Parts resolves every name of t (defaults applied). Errors are
// *harness.ConfigError.
func Parts(t harness.Test, o RunOptions) (harness.Parts, error) {
	_, p, err := Resolve(t, o)
	return p, err
}

// Resolve is Parts, and t as it will run, with every value it leaves to a
// default resolved: the harness's defaults, each option the system declares
// (its default unless set), the timescale the system declares and the
// nemesis interval that follows from it, and a built-in workload's read
// fraction. config.json records that test, so a replay runs the same test
// after a default changes; a stored test resolves to itself.
func Resolve(t harness.Test, o RunOptions) (harness.Test, harness.Parts, error) {
	t = t.WithDefaults()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fail := func(err error) (harness.Test, harness.Parts, error) {
		return t, harness.Parts{}, &harness.ConfigError{Err: err}
	}
	def, _, err := lookup(t.System)
	if err != nil {
		return fail(err)
	}
	sys, err := System(t.System, t.Options, log)
	if err != nil {
		return fail(err)
	}
	t.Options = resolvedOptions(def, t.Options)
	t = t.ForSystem(sys)
	if t.ReadFraction == 0 {
		t.ReadFraction = workloads.DefaultReadFractionOf(t.Workload)
	}
	dep, err := Deployment(t, log)
	if err != nil {
		return fail(err)
	}
	w, err := Workload(t, sys)
	if err != nil {
		return fail(err)
	}
	if err := harness.Serves(sys, w); err != nil {
		return fail(err) // here too, so the command refuses before printing anything
	}
	t = recordKnobs(t, w)
	nems, err := Nemeses(t.Nemesis)
	if err != nil {
		return fail(err)
	}
	if t.Bug != "" {
		if err := checkBug(sys, t.Bug); err != nil {
			return fail(err)
		}
	}
	p := harness.Parts{System: sys, Deployment: dep, Workload: w, Nemeses: nems,
		Logger: log, Progress: o.Progress}
	p.Command = o.Command
	return t, p, nil
}

func checkBug(sys harness.System, bug string) error {
	var names []string
	for _, b := range harness.BugsOf(sys) {
		if b.Name == bug {
			return nil
		}
		names = append(names, b.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("system %s has no bug catalog; --bug %q cannot be applied", sys.Name(), bug)
	}
	sort.Strings(names)
	return fmt.Errorf("system %s has no bug %q (see `gauntlet bugs --system %s`; known: %s)", sys.Name(), bug, sys.Name(), strings.Join(names, ", "))
}

// Run resolves t's names, runs it and writes its report and the index of
// the results folder. A report that cannot be written is logged, not fatal:
// the verdict is in results.json either way.
func Run(ctx context.Context, t harness.Test, o RunOptions) (*harness.Results, error) {
	t, p, err := Resolve(t, o)
	if err != nil {
		return nil, err
	}
	res, err := harness.Run(ctx, t, p)
	if res != nil && !o.NoReport {
		WriteReport(context.WithoutCancel(ctx), res, p.Logger)
	}
	return res, err
}

// WriteReport writes report.html of the run and, when the run folder is
// <out>/<name>/<start>, the index of <out>.
func WriteReport(ctx context.Context, res *harness.Results, log harness.Logger) {
	dir := res.Dir
	if err := report.Write(ctx, dir); err != nil && log != nil {
		log.Warn("report", "dir", dir, "err", err)
	}
	out, ok := ResultsRoot(dir)
	if !ok {
		return
	}
	if err := report.WriteIndex(out); err != nil && log != nil {
		log.Warn("report index", "dir", out, "err", err)
	}
}

// ResultsRoot is <out> for a run folder <out>/<name>/<start> whose name
// folder holds the run's config (so a folder elsewhere gets no index
// written above it).
func ResultsRoot(dir string) (string, bool) {
	t, err := harness.ReadTest(dir)
	if err != nil {
		return "", false
	}
	name := filepath.Base(filepath.Dir(dir))
	if name != t.Name {
		return "", false
	}
	return filepath.Dir(filepath.Dir(dir)), true
}
