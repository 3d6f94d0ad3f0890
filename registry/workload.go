package registry

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/checkers/convergence"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/nemesis"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

// WorkloadFunc makes a workload of a test: its checkers are bounded by
// o.CheckTimeout, and o.ReadFraction is the share of reads asked for.
type WorkloadFunc func(o workloads.Options) (harness.Workload, error)

// NemesisFunc makes a fresh fault package (one per run: it remembers what
// it must heal).
type NemesisFunc func() harness.Nemesis

var (
	userWorkloads = map[string]WorkloadFunc{}
	userNemeses   = map[string]NemesisFunc{}
)

// RegisterWorkload adds a workload of a team's own (its generator and
// checkers). A name taken already is an error, kept like Register's.
func RegisterWorkload(name string, f WorkloadFunc) error {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := userWorkloads[name]; dup || slices.Contains(workloads.Names(), name) || name == "" || f == nil {
		err := fmt.Errorf("workload %q: registered twice, a built-in name, unnamed or without a function", name)
		regErrs = append(regErrs, err)
		return err
	}
	userWorkloads[name] = f
	return nil
}

// RegisterNemesis adds a fault package of a team's own, used by name in
// --nemesis (not part of "all").
func RegisterNemesis(name string, f NemesisFunc) error {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := userNemeses[name]; dup || nemesis.BuiltIn(name) || name == "" || f == nil {
		err := fmt.Errorf("nemesis %q: registered twice, a built-in name, unnamed or without a function", name)
		regErrs = append(regErrs, err)
		return err
	}
	userNemeses[name] = f
	return nil
}

// Workloads lists the workload names.
func Workloads() []string {
	mu.Lock()
	defer mu.Unlock()
	out := workloads.Names()
	for n := range userWorkloads {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Workload resolves t's workload; its checkers are bounded by
// t.CheckTimeout. Convergence is judged for every workload of a system that
// makes digests (it is about the system: after recovery all replicas hold
// the same state), so it is added if the workload does not name it.
func Workload(t harness.Test, sys harness.System) (harness.Workload, error) {
	return workload(t, harness.Has(sys, harness.CapDigest), harness.ConsistencyOf(sys))
}

// workload makes t's workload; promised is the consistency model the
// system promises ("" when it declares none, or when re-checking a stored
// run, whose config.json names the model it was judged against).
func workload(t harness.Test, withDigests bool, promised string) (harness.Workload, error) {
	if err := Err(); err != nil {
		return nil, err
	}
	o := workloads.Options{CheckTimeout: t.CheckTimeout.D(), ReadFraction: t.ReadFraction,
		Keys: t.Keys, MinTxnLength: t.MinTxnLength, MaxTxnLength: t.MaxTxnLength, MaxWritesPerKey: t.MaxWritesPerKey,
		Accounts: t.Accounts, Consistency: t.Consistency, Promised: promised}
	mu.Lock()
	f, ok := userWorkloads[t.Workload]
	mu.Unlock()
	var w harness.Workload
	var err error
	if ok {
		w, err = f(o)
	} else {
		w, err = workloads.New(t.Workload, o)
	}
	if err != nil || !withDigests {
		return w, err
	}
	return withConvergence{w}, nil
}

type withConvergence struct{ harness.Workload }

// Needs are the wrapped workload's: the system must still be refused
// before the run when it cannot serve them.
func (w withConvergence) Needs() []harness.Feature { return harness.NeedsOf(w.Workload) }

// Unwrap is the workload without the added checker.
func (w withConvergence) Unwrap() harness.Workload { return w.Workload }

// recordKnobs writes the knobs w resolved (defaults filled in) into t, so
// that config.json holds every value and names the consistency model the
// run is judged against, the system's promise included: a re-check or a
// replay judges as this run did.
func recordKnobs(t harness.Test, w harness.Workload) harness.Test {
	if u, ok := w.(interface{ Unwrap() harness.Workload }); ok {
		w = u.Unwrap()
	}
	k, ok := w.(workloads.Knobbed)
	if !ok {
		return t
	}
	o := k.Knobs()
	t.Keys, t.MinTxnLength, t.MaxTxnLength, t.MaxWritesPerKey = o.Keys, o.MinTxnLength, o.MaxTxnLength, o.MaxWritesPerKey
	t.Accounts, t.Consistency = o.Accounts, o.Consistency
	return t
}

func (w withConvergence) Checkers() []harness.Checker {
	cs := w.Workload.Checkers()
	for _, c := range cs {
		if c.Name() == (convergence.Checker{}).Name() {
			return cs
		}
	}
	return append(cs, convergence.New())
}

// NemesisNames lists the fault packages: the built-in ones, then a team's.
func NemesisNames() []string {
	mu.Lock()
	defer mu.Unlock()
	out := nemesis.Names()
	var own []string
	for n := range userNemeses {
		own = append(own, n)
	}
	sort.Strings(own)
	return append(out, own...)
}

// ParseNemesis expands a --nemesis spec ("partition,kill", "all", "none");
// registered packages are taken by name.
func ParseNemesis(spec string) ([]string, error) {
	var builtin, out []string
	for _, n := range strings.Split(spec, ",") {
		n = strings.TrimSpace(n)
		mu.Lock()
		_, own := userNemeses[n]
		mu.Unlock()
		if own {
			out = append(out, n)
		} else {
			builtin = append(builtin, n)
		}
	}
	if len(builtin) > 0 {
		names, err := nemesis.Parse(strings.Join(builtin, ","))
		if err != nil {
			return nil, err
		}
		out = append(names, out...)
	}
	return out, nil
}

// Nemeses makes fresh instances of the named packages.
func Nemeses(names []string) ([]harness.Nemesis, error) {
	if len(names) == 0 {
		return nil, nil
	}
	// Groups ("aimed", "all") may come unexpanded, e.g. from a campaign cell.
	names, err := ParseNemesis(strings.Join(names, ","))
	if err != nil {
		return nil, fmt.Errorf("--nemesis: %w", err)
	}
	var out []harness.Nemesis
	for _, n := range names {
		if n == "none" {
			continue
		}
		mu.Lock()
		f, own := userNemeses[n]
		mu.Unlock()
		if own {
			out = append(out, f())
			continue
		}
		nem, err := nemesis.New(n)
		if err != nil {
			return nil, fmt.Errorf("--nemesis: %w", err)
		}
		out = append(out, nem)
	}
	return out, nil
}
