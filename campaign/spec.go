// Package campaign runs matrices of tests — systems × bugs × workloads ×
// nemesis packages × deployments × system options × seeds — in parallel
// under a time budget, resumably, and summarizes them (summary.json,
// summary.html, JUnit XML).
// It also holds the detection benchmark and the shrinker, which are
// campaigns of a fixed shape.
//
// The package never starts a cluster itself: it calls a RunFunc (the
// harness runner, wired by cmd/gauntlet), so it can be tested with a fake.
package campaign

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// RunFunc carries out one test and returns its results. A run that could
// not be carried out returns results with Error set (or an error).
type RunFunc func(ctx context.Context, t harness.Test) (*harness.Results, error)

// Spec is a campaign file (YAML or JSON).
type Spec struct {
	Name      string   `yaml:"name" json:"name"`
	Systems   []string `yaml:"systems" json:"systems"`
	Deploy    []string `yaml:"deploy" json:"deploy"`
	Workloads []string `yaml:"workloads" json:"workloads"`
	// Nemesis lists nemesis specs, each a comma list ("partition,kill") or "none".
	Nemesis []string `yaml:"nemesis" json:"nemesis"`
	// Bugs lists bug names; "none" is the correct system. "raft:stale-read"
	// applies to one system only (catalogs differ between systems).
	Bugs []string `yaml:"bugs" json:"bugs"`
	// Seeds is how many seeds per cell, from BaseSeed on; SeedList overrides.
	Seeds    int     `yaml:"seeds" json:"seeds"`
	BaseSeed int64   `yaml:"base_seed" json:"base_seed"`
	SeedList []int64 `yaml:"seed_list" json:"seed_list"`

	TimeLimit       string `yaml:"time_limit" json:"time_limit"`
	NemesisInterval string `yaml:"nemesis_interval" json:"nemesis_interval"`
	Nodes           int    `yaml:"nodes" json:"nodes"`
	Concurrency     int    `yaml:"concurrency" json:"concurrency"`
	StopOnViolation bool   `yaml:"stop_on_violation" json:"stop_on_violation"`
	// OpTimeout bounds one client operation (--op-timeout), e.g. "4s".
	OpTimeout string `yaml:"op_timeout" json:"op_timeout"`
	// ReadFraction is the workload's share of reads (--read-fraction), 0–1.
	ReadFraction float64 `yaml:"read_fraction" json:"read_fraction"`
	// Rate is the total ops/s across workers (--rate); 0 = as fast as the
	// system answers.
	Rate float64 `yaml:"rate" json:"rate,omitempty"`
	// Hosts is the hosts file of cells deployed with ssh (--hosts).
	Hosts string `yaml:"hosts" json:"hosts,omitempty"`
	// Workload knobs (--keys, --min-txn-length, …), given to every run; a
	// workload refuses one it has no use for, so set them in a campaign of
	// the workloads they shape.
	Keys            int    `yaml:"keys" json:"keys,omitempty"`
	MinTxnLength    int    `yaml:"min_txn_length" json:"min_txn_length,omitempty"`
	MaxTxnLength    int    `yaml:"max_txn_length" json:"max_txn_length,omitempty"`
	MaxWritesPerKey int    `yaml:"max_writes_per_key" json:"max_writes_per_key,omitempty"`
	Accounts        int    `yaml:"accounts" json:"accounts,omitempty"`
	Consistency     string `yaml:"consistency" json:"consistency,omitempty"`
	// Options is one more matrix dimension: each entry is a map of
	// system options (the keys of `gauntlet run`'s option flags, e.g.
	// {etcd-version: v3.6.8, etcd-election-ms: 250}) given to the runs of
	// its cells as Test.Options. Empty = one cell without options.
	Options []map[string]string `yaml:"options" json:"options"`
}

// LoadSpec reads a campaign file. Errors name the file and what is wrong.
func LoadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("campaign file: %w", err)
	}
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data)) // YAML is a superset of JSON
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("campaign file %s: %v (want a YAML or JSON map with systems, workloads, nemesis, bugs, seeds, …)", path, err)
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return s, s.Validate()
}

// Validate checks the spec for obvious mistakes.
func (s Spec) Validate() error {
	if s.Name == "" || strings.ContainsAny(s.Name, `/\ `) {
		return fmt.Errorf("campaign name %q must be a non-empty word without slashes or spaces", s.Name)
	}
	if s.Seeds < 0 {
		return fmt.Errorf("seeds must be ≥ 0, got %d", s.Seeds)
	}
	if s.ReadFraction < 0 || s.ReadFraction > 1 {
		return fmt.Errorf("read_fraction must be between 0 and 1, got %g", s.ReadFraction)
	}
	for name, n := range map[string]int{"keys": s.Keys, "min_txn_length": s.MinTxnLength, "max_txn_length": s.MaxTxnLength,
		"max_writes_per_key": s.MaxWritesPerKey, "accounts": s.Accounts} {
		if n < 0 {
			return fmt.Errorf("%s must not be negative, got %d", name, n)
		}
	}
	for _, d := range []struct{ name, v string }{{"time_limit", s.TimeLimit}, {"nemesis_interval", s.NemesisInterval}, {"op_timeout", s.OpTimeout}} {
		if d.v != "" {
			if _, err := time.ParseDuration(d.v); err != nil {
				return fmt.Errorf("%s %q is not a duration like 20s", d.name, d.v)
			}
		}
	}
	seen := map[string]int{}
	for i, m := range s.Options {
		for k := range m {
			if k == "" || strings.HasPrefix(k, "-") || strings.ContainsAny(k, "=,/ ") {
				return fmt.Errorf("options[%d]: key %q must be an option name without dashes in front, like etcd-version", i, k)
			}
		}
		key := optionsString(m)
		if j, dup := seen[key]; dup {
			return fmt.Errorf("options[%d] repeats options[%d] (%s)", i, j, key)
		}
		seen[key] = i
	}
	return nil
}

// Cell is one point of the matrix (all seeds of it form the cell's runs).
type Cell struct {
	System   string `json:"system"`
	Deploy   string `json:"deploy"`
	Workload string `json:"workload"`
	Nemesis  string `json:"nemesis"`
	Bug      string `json:"bug"` // "" = correct system
	// Options are the system options of the cell (Spec.Options), if any.
	Options map[string]string `json:"options,omitempty"`
}

// Key names the cell uniquely and readably. Options, when present, are a
// last part "k=v,k=v" in key order (a slash in a value becomes "_", so the
// key stays one folder per part).
func (c Cell) Key() string {
	bug := c.Bug
	if bug == "" {
		bug = "none"
	}
	parts := []string{c.System, c.Deploy, c.Workload, strings.ReplaceAll(c.Nemesis, ",", "+"), bug}
	if len(c.Options) > 0 {
		parts = append(parts, strings.ReplaceAll(c.OptionsString(), "/", "_"))
	}
	return strings.Join(parts, "/")
}

// OptionsString is the cell's options as "k=v,k=v" in key order ("" when none).
func (c Cell) OptionsString() string { return optionsString(c.Options) }

func optionsString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

// Run is one cell at one seed.
type Run struct {
	Cell Cell  `json:"cell"`
	Seed int64 `json:"seed"`
}

// Key names the run uniquely.
func (r Run) Key() string { return fmt.Sprintf("%s/seed-%d", r.Cell.Key(), r.Seed) }

func orDefault(xs []string, d string) []string {
	if len(xs) == 0 {
		return []string{d}
	}
	return xs
}

// Runs expands the matrix in a stable order: cells first, then seeds, so a
// budget cut still covers every cell before repeating any.
func (s Spec) Runs() []Run {
	seeds := s.SeedList
	if len(seeds) == 0 {
		n := s.Seeds
		if n == 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			seeds = append(seeds, s.BaseSeed+int64(i))
		}
	}
	optSets := s.Options
	if len(optSets) == 0 {
		optSets = []map[string]string{nil}
	}
	var cells []Cell
	for _, sys := range orDefault(s.Systems, "raft") {
		for _, dep := range orDefault(s.Deploy, "local") {
			for _, wl := range orDefault(s.Workloads, "kv") {
				for _, nem := range orDefault(s.Nemesis, "none") {
					for _, bug := range orDefault(s.Bugs, "none") {
						if sys2, name, ok := strings.Cut(bug, ":"); ok {
							if sys2 != sys {
								continue
							}
							bug = name
						}
						if bug == "none" {
							bug = ""
						}
						for _, opts := range optSets {
							c := Cell{System: sys, Deploy: dep, Workload: wl, Nemesis: nem, Bug: bug}
							if len(opts) > 0 {
								c.Options = opts
							}
							cells = append(cells, c)
						}
					}
				}
			}
		}
	}
	var runs []Run
	for _, seed := range seeds {
		for _, c := range cells {
			runs = append(runs, Run{Cell: c, Seed: seed})
		}
	}
	return runs
}

// Test builds the harness test of a run from a template of defaults.
func (s Spec) Test(r Run, template harness.Test, out string) harness.Test {
	t := template
	t.Name = strings.ReplaceAll(r.Cell.Key(), "/", "_")
	t.System, t.Deploy, t.Workload, t.Bug = r.Cell.System, r.Cell.Deploy, r.Cell.Workload, r.Cell.Bug
	t.Nemesis = nil
	if r.Cell.Nemesis != "none" && r.Cell.Nemesis != "" {
		t.Nemesis = strings.Split(r.Cell.Nemesis, ",")
	}
	t.Seed = r.Seed
	t.Out = out
	if d, err := time.ParseDuration(s.TimeLimit); err == nil && s.TimeLimit != "" {
		t.TimeLimit = harness.Duration(d)
	}
	if d, err := time.ParseDuration(s.NemesisInterval); err == nil && s.NemesisInterval != "" {
		t.NemesisInterval = harness.Duration(d)
	}
	if s.Nodes > 0 {
		t.Nodes = s.Nodes
	}
	if s.Concurrency > 0 {
		t.Concurrency = s.Concurrency
	}
	if s.StopOnViolation {
		t.StopOnViolation = true
	}
	if d, err := time.ParseDuration(s.OpTimeout); err == nil && s.OpTimeout != "" {
		t.OpTimeout = harness.Duration(d)
	}
	if s.ReadFraction > 0 {
		t.ReadFraction = s.ReadFraction
	}
	if s.Rate > 0 {
		t.Rate = s.Rate
	}
	if s.Hosts != "" {
		t.Hosts = s.Hosts
	}
	s.knobs(&t)
	if len(template.Options) > 0 || len(r.Cell.Options) > 0 {
		// A fresh map: the template's and the spec's maps are shared by every run.
		opts := make(map[string]string, len(template.Options)+len(r.Cell.Options))
		maps.Copy(opts, template.Options)
		maps.Copy(opts, r.Cell.Options)
		t.Options = opts
	}
	return t
}

// knobs gives a run the workload knobs the spec sets.
func (s Spec) knobs(t *harness.Test) {
	for _, k := range []struct {
		dst *int
		v   int
	}{{&t.Keys, s.Keys}, {&t.MinTxnLength, s.MinTxnLength}, {&t.MaxTxnLength, s.MaxTxnLength},
		{&t.MaxWritesPerKey, s.MaxWritesPerKey}, {&t.Accounts, s.Accounts}} {
		if k.v > 0 {
			*k.dst = k.v
		}
	}
	if s.Consistency != "" {
		t.Consistency = s.Consistency
	}
}
