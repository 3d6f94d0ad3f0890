package harness

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of a Test's zero fields (see WithDefaults).
const (
	DefaultNodes           = 5
	DefaultConcurrency     = 10
	DefaultNemesisInterval = 5 * time.Second // at least; see NemesisIntervalFor
	// DefaultTimescale is the timescale of a system that declares none
	// (Timescaler): the 1 s of etcd's election timeout, the pace Gauntlet's
	// fault timings were first made for.
	DefaultTimescale     = time.Second
	DefaultTimeLimit     = 20 * time.Second
	DefaultRecoveryLimit = 30 * time.Second
	DefaultCheckTimeout  = 60 * time.Second
	DefaultOpTimeout     = time.Second
	DefaultOut           = "results"
)

// ExitInterrupted is the exit status of a run stopped by SIGINT/SIGTERM that
// found no violation in what it recorded (128+SIGINT, as shells report it).
// An interrupted run that did find a violation exits ExitInvalid.
const ExitInterrupted = 130

// WithDefaults fills the zero fields of t with the defaults. The seed is left
// alone: 0 is a valid seed, and choosing a random one is the caller's job.
// The timescale and the nemesis interval come from the system (ForSystem).
func (t Test) WithDefaults() Test {
	if t.System == "" {
		t.System = "raft"
	}
	if t.Deploy == "" {
		t.Deploy = "local"
	}
	if t.Workload == "" {
		t.Workload = "kv"
	}
	if t.Nodes == 0 {
		t.Nodes = DefaultNodes
	}
	if t.Concurrency == 0 {
		t.Concurrency = DefaultConcurrency
	}
	if t.TimeLimit == 0 {
		t.TimeLimit = Duration(DefaultTimeLimit)
	}
	if t.RecoveryLimit == 0 {
		t.RecoveryLimit = Duration(DefaultRecoveryLimit)
	}
	if t.CheckTimeout == 0 {
		t.CheckTimeout = Duration(DefaultCheckTimeout)
	}
	if t.OpTimeout == 0 {
		t.OpTimeout = Duration(DefaultOpTimeout)
	}
	if t.Out == "" {
		t.Out = DefaultOut
	}
	if len(t.Nemesis) == 1 && t.Nemesis[0] == "none" {
		t.Nemesis = nil
	}
	if t.Name == "" {
		t.Name = t.defaultName()
	}
	return t
}

// ForSystem resolves what a test takes from its system: the timescale (what
// sys declares, DefaultTimescale if it declares none or sys is nil) and
// the nemesis interval (NemesisIntervalFor the timescale). Values already
// set, by a flag or a stored config.json, are kept: a replay runs what was
// recorded.
func (t Test) ForSystem(sys System) Test {
	if t.Timescale == 0 {
		t.Timescale = Duration(DefaultTimescale)
		if sys != nil {
			t.Timescale = Duration(TimescaleOf(sys))
		}
	}
	if t.NemesisInterval == 0 {
		t.NemesisInterval = Duration(NemesisIntervalFor(t.Timescale.D()))
	}
	return t
}

// NemesisIntervalFor is the default nemesis interval (how long a random
// package's fault holds, and the quiet after it) on a system of timescale
// ts: 2.5 timescales, and never less than DefaultNemesisInterval. A Raft
// follower's randomized timeout runs out within [T, 2T) of its last
// heartbeat and the election takes a round more, so a leader cut off for
// 2.5 T is replaced whatever the draw; below a 2 s timescale the 5 s floor
// keeps the schedules Gauntlet was calibrated with.
func NemesisIntervalFor(ts time.Duration) time.Duration {
	return max(DefaultNemesisInterval, ts*5/2)
}

// defaultName is "<system>[-<bug>]-<workload>-<nemesis>", e.g.
// "raft-stale-read-kv-partition+kill": a directory name that says what ran.
func (t Test) defaultName() string {
	parts := []string{systemWord(t.System)}
	if t.Bug != "" {
		parts = append(parts, t.Bug)
	}
	parts = append(parts, t.Workload, strings.ReplaceAll(t.NemesisName(), ",", "+"))
	if t.Deploy != "" && t.Deploy != "local" {
		parts = append(parts, t.Deploy)
	}
	return strings.Join(parts, "-")
}

// ConfigError is a test that cannot be run as configured (bad values, a fault
// the deployment cannot make). The command exits ExitUsage.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "configuration: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Validate checks the values of a test with defaults applied.
func (t Test) Validate() error {
	var errs []error
	if t.Nodes < 1 {
		errs = append(errs, fmt.Errorf("nodes must be at least 1, got %d", t.Nodes))
	}
	if t.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency must be at least 1, got %d", t.Concurrency))
	}
	if t.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate must not be negative, got %g", t.Rate))
	}
	if t.ReadFraction < 0 || t.ReadFraction > 1 {
		errs = append(errs, fmt.Errorf("read-fraction must be between 0 and 1, got %g", t.ReadFraction))
	}
	for name, d := range map[string]Duration{"time-limit": t.TimeLimit,
		"recovery-limit": t.RecoveryLimit, "check-timeout": t.CheckTimeout, "op-timeout": t.OpTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, d.D()))
		}
	}
	// 0: taken from the system (ForSystem).
	for name, d := range map[string]Duration{"nemesis-interval": t.NemesisInterval, "timescale": t.Timescale} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, d.D()))
		}
	}
	if strings.ContainsAny(t.Name, `/\`) || t.Name == "." || t.Name == ".." {
		errs = append(errs, fmt.Errorf("test name %q must not contain path separators", t.Name))
	}
	return errors.Join(errs...)
}

// ExitCode is the command's exit status for these results: ExitRunFail when
// the run could not be carried out, ExitInterrupted for an interrupted run
// without a violation, else the verdict's code.
func (r *Results) ExitCode() int {
	switch {
	case r == nil:
		return ExitRunFail
	case r.Verdict == Invalid:
		return ExitInvalid
	case r.Error != "":
		return ExitRunFail
	case r.Interrupted:
		return ExitInterrupted
	default:
		return r.Verdict.ExitCode()
	}
}

// FirstAnomaly returns the earliest anomaly of an invalid checker, or nil.
func (r *Results) FirstAnomaly() *Anomaly {
	var first *Anomaly
	for i := range r.Checkers {
		c := &r.Checkers[i]
		if c.Validity != Invalid {
			continue
		}
		for j := range c.Anomalies {
			a := &c.Anomalies[j]
			if first == nil || a.Time < first.Time {
				first = a
			}
		}
	}
	return first
}

// systemWord is a system name fit for a folder name: exec:path/to/pystore.yaml
// is "exec-pystore" (a file called system.yaml is named by its folder).
func systemWord(sys string) string {
	scheme, arg, found := strings.Cut(sys, ":")
	if !found {
		return sys
	}
	stem := strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg))
	if stem == "system" || stem == "." || stem == "" {
		stem = filepath.Base(filepath.Dir(arg))
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == ' ' {
			return '-'
		}
		return r
	}, scheme+"-"+stem)
}
