// Package registry resolves the names of a harness.Test — system,
// deployment, workload, nemesis packages — to components, and runs or
// re-checks tests by name. It is the one place that knows every component;
// cmd/gauntlet and gauntlettest go through it.
package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/deploy/docker"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/report"
	"github.com/gauntlet-dev/gauntlet/targets/consul"
	"github.com/gauntlet-dev/gauntlet/targets/etcd"
)

// Options are what a caller adds to a test's names.
type Options struct {
	Logger   harness.Logger         // nil = silent
	Progress func(harness.Progress) // live progress; nil = none
	// Watch sees every op (see harness.Parts.Watch); --stop-on-violation's
	// online check plugs in here.
	Watch func(harness.Op) bool
	// NoReport skips report.html and index.html (they cost a second or two).
	NoReport bool
}

// Option keys of Test.Options understood here; each is also a flag of
// `gauntlet run` (Test.CommandLine writes them as --key value).
const (
	OptEtcdVersion      = "etcd-version"
	OptEtcdBinary       = "etcd-binary"
	OptEtcdSerializable = "etcd-serializable-reads"
	OptEtcdElectionMS   = "etcd-election-ms"
	OptEtcdHeartbeatMS  = "etcd-heartbeat-ms"
	OptEtcdPadKeys      = "etcd-pad-keys"
)

// OptionFlag is one key of Test.Options with its help text.
type OptionFlag struct{ Key, Help string }

// OptionFlags lists the option keys, in the order `gauntlet run` shows them.
func OptionFlags() []OptionFlag {
	fs := []OptionFlag{
		{OptEtcdVersion, "etcd: version to build (--system etcd)"},
		{OptEtcdBinary, "etcd: use this etcd binary instead of building one"},
		{OptEtcdSerializable, "etcd: true = serializable (possibly stale) reads"},
		{OptEtcdElectionMS, "etcd: election timeout in ms (etcd's default 1000; at least 5 heartbeats)"},
		{OptEtcdHeartbeatMS, "etcd: heartbeat interval in ms (etcd's default 100)"},
		{OptEtcdPadKeys, "etcd: write N padding keys; writes and cas also compare them (always true), which lengthens etcd's apply window of #13766"},
	}
	for _, f := range consul.Flags {
		fs = append(fs, OptionFlag{f.Name, f.Help})
	}
	return fs
}

// Systems lists the system names.
func Systems() []string { return []string{"raft", "quorum", "etcd", "consul"} }

// Deployments lists the deployment names.
func Deployments() []string { return []string{"local", "docker"} }

// System resolves a system name; opts are the test's Options.
func System(name string, opts map[string]string, log harness.Logger) (harness.System, error) {
	switch name {
	case "raft", "quorum":
		return kvnodeSystem(name)
	case "etcd":
		o := etcd.Options{Version: opts[OptEtcdVersion], Binary: opts[OptEtcdBinary]}
		if v := opts[OptEtcdSerializable]; v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", OptEtcdSerializable, err)
			}
			o.SerializableReads = b
		}
		if err := etcdTimeouts(opts, &o); err != nil {
			return nil, err
		}
		for k := range opts {
			if strings.HasPrefix(k, "etcd-") && !knownOption(k) {
				return nil, fmt.Errorf("unknown etcd option %q (known: %s)", k, strings.Join(optionKeys(), ", "))
			}
		}
		if log != nil {
			o.Logf = func(f string, args ...any) { log.Info(fmt.Sprintf(f, args...)) }
		}
		return etcd.New(o), nil
	case "consul":
		o, err := consul.FromMap(opts)
		if err != nil {
			return nil, err
		}
		if log != nil {
			o.Logf = func(f string, args ...any) { log.Info(fmt.Sprintf(f, args...)) }
		}
		return consul.New(o), nil
	}
	return nil, fmt.Errorf("unknown system %q (known: %s)", name, strings.Join(Systems(), ", "))
}

// etcdTimeouts reads the election and heartbeat options (ms). etcd refuses to
// start with an election timeout under five heartbeats; that is caught here,
// as a configuration error, rather than as a cluster that never starts.
func etcdTimeouts(opts map[string]string, o *etcd.Options) error {
	for _, f := range []struct {
		key, unit string
		dst       *int
	}{{OptEtcdElectionMS, "milliseconds", &o.ElectionMS}, {OptEtcdHeartbeatMS, "milliseconds", &o.HeartbeatMS}, {OptEtcdPadKeys, "keys", &o.PadKeys}} {
		v := opts[f.key]
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return fmt.Errorf("--%s wants a positive number of %s, got %q", f.key, f.unit, v)
		}
		*f.dst = n
	}
	election, heartbeat := o.ElectionMS, o.HeartbeatMS
	if election == 0 {
		election = 1000
	}
	if heartbeat == 0 {
		heartbeat = 100
	}
	if election < 5*heartbeat {
		return fmt.Errorf("--%s %d must be at least 5 × --%s %d (etcd refuses to start otherwise; defaults 1000 and 100)",
			OptEtcdElectionMS, election, OptEtcdHeartbeatMS, heartbeat)
	}
	return nil
}

func optionKeys() []string {
	var ks []string
	for _, f := range OptionFlags() {
		ks = append(ks, f.Key)
	}
	return ks
}

func knownOption(k string) bool {
	for _, f := range OptionFlags() {
		if f.Key == k {
			return true
		}
	}
	return false
}

// Deployment resolves a deployment name.
func Deployment(name string, log harness.Logger) (harness.Deployment, error) {
	switch name {
	case "local":
		return localDeployment(log)
	case "docker":
		return docker.New(docker.Options{Logger: log}), nil
	}
	return nil, fmt.Errorf("unknown deployment %q (known: %s)", name, strings.Join(Deployments(), ", "))
}

// Parts resolves every name of t (defaults applied). Errors are
// *harness.ConfigError.
func Parts(t harness.Test, o Options) (harness.Parts, error) {
	t = t.WithDefaults()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sys, err := System(t.System, t.Options, log)
	if err != nil {
		return harness.Parts{}, &harness.ConfigError{Err: err}
	}
	dep, err := Deployment(t.Deploy, log)
	if err != nil {
		return harness.Parts{}, &harness.ConfigError{Err: err}
	}
	w, err := Workload(t)
	if err != nil {
		return harness.Parts{}, &harness.ConfigError{Err: err}
	}
	nems, err := Nemeses(t.Nemesis)
	if err != nil {
		return harness.Parts{}, &harness.ConfigError{Err: err}
	}
	if t.Bug != "" {
		if err := checkBug(sys, t.Bug); err != nil {
			return harness.Parts{}, &harness.ConfigError{Err: err}
		}
	}
	return harness.Parts{System: sys, Deployment: dep, Workload: w, Nemeses: nems,
		Logger: log, Progress: o.Progress, Watch: o.Watch, Converged: converged}, nil
}

func checkBug(sys harness.System, bug string) error {
	var names []string
	for _, b := range sys.Bugs() {
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
func Run(ctx context.Context, t harness.Test, o Options) (*harness.Results, error) {
	p, err := Parts(t, o)
	if err != nil {
		return nil, err
	}
	res, err := harness.Run(ctx, t, p)
	if res != nil && !o.NoReport {
		WriteReport(context.WithoutCancel(ctx), res, p.Logger)
	}
	return res, err
}

// WriteReport writes report.html of the run and the results index.
func WriteReport(ctx context.Context, res *harness.Results, log harness.Logger) {
	dir := res.Dir
	if err := report.Write(ctx, dir); err != nil && log != nil {
		log.Warn("report", "dir", dir, "err", err)
	}
	if err := report.WriteIndex(res.Test.Out); err != nil && log != nil {
		log.Warn("report index", "dir", res.Test.Out, "err", err)
	}
}
