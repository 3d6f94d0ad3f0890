// Package nemesis holds Gauntlet's fault packages: partition, kill, pause,
// clock, loss and latency. A package injects one fault per Start, choosing
// its shape and targets with the runner's seeded rng, and undoes it on Heal.
// Scheduling and recording the faults in the history are the runner's job.
//
// Every Start draws the same number of random values whatever the cluster's
// state (a leader known or not), so one seed gives one fault schedule.
package nemesis

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// packages is the one table of fault packages: each name, the group a
// --nemesis spec expands to it ("all": the random packages; "aimed": those
// aimed at the protocol; "": by name only, one fault aimed at one role or
// every node at once) and its constructor. Groups expand in table order.
// The feedback schedule (feedback.go) is not a package but chooses among
// them.
var packages = []struct {
	name, group string
	make        func() harness.Nemesis
}{
	{"partition", groupAll, func() harness.Nemesis { return &Partition{} }},
	{"kill", groupAll, func() harness.Nemesis { return &Kill{} }},
	{"pause", groupAll, func() harness.Nemesis { return &Pause{} }},
	{"clock", groupAll, func() harness.Nemesis { return &Clock{} }},
	{"loss", groupAll, func() harness.Nemesis { return &Loss{} }},
	{"latency", groupAll, func() harness.Nemesis { return &Latency{} }},
	{"pause-leader", "", func() harness.Nemesis { return &Pause{LeaderOnly: true} }},
	{"power-loss", "", func() harness.Nemesis { return &PowerLoss{} }},
	{"stutter", "", func() harness.Nemesis { return &Stutter{} }},
	{"leader-minority", groupAimed, func() harness.Nemesis { return &LeaderMinority{} }},
	{"new-leader", groupAimed, func() harness.Nemesis { return &NewLeader{} }},
	{"kill-leader", groupAimed, func() harness.Nemesis { return &KillLeader{} }},
	{"flap", groupAimed, func() harness.Nemesis { return &Flap{} }},
	{"pause-leader-brief", groupAimed, func() harness.Nemesis { return &PauseLeaderBrief{} }},
	{"stale-candidate", groupAimed, func() harness.Nemesis { return &StaleCandidate{} }},
	{"slow-election", groupAimed, func() harness.Nemesis { return &SlowElection{} }},
}

const (
	groupAll   = "all"
	groupAimed = "aimed"
)

// The groups, in the order they expand to.
var (
	names    = group(groupAll)
	targeted = group("")
	aimed    = group(groupAimed)
)

func group(g string) []string {
	var out []string
	for _, p := range packages {
		if p.group == g {
			out = append(out, p.name)
		}
	}
	return out
}

// lookup finds a package's constructor in the table.
func lookup(name string) func() harness.Nemesis {
	for _, p := range packages {
		if p.name == name {
			return p.make
		}
	}
	return nil
}

// Names lists the fault packages ("all" expands to these).
func Names() []string { return slices.Clone(names) }

// Aimed lists the packages aimed at the protocol ("aimed" expands to these).
func Aimed() []string { return slices.Clone(aimed) }

// Targeted lists the packages accepted by name only, in no group.
func Targeted() []string { return slices.Clone(targeted) }

// BuiltIn tells whether name is a package or group of this package, which a
// team's own package may not take.
func BuiltIn(name string) bool {
	switch {
	case name == "all" || name == "aimed" || name == "none" || name == "feedback" || strings.HasPrefix(name, "feedback:"):
		return true
	}
	return lookup(name) != nil
}

// known lists every name New accepts, for error messages.
func known() string {
	return strings.Join(append(append(Names(), targeted...), aimed...), ", ") + ", feedback[:a+b+…]"
}

// New returns a fresh instance of the named package (instances keep what
// they must heal, so use one per run).
func New(name string) (harness.Nemesis, error) {
	if mk := lookup(name); mk != nil {
		return mk(), nil
	}
	if name == "feedback" {
		return NewFeedback(nil)
	}
	if plan, ok := strings.CutPrefix(name, "feedback:"); ok {
		return NewFeedback(strings.Split(plan, "+"))
	}
	return nil, fmt.Errorf("unknown nemesis %q (known: %s, all, none)", name, known())
}

// Parse expands a --nemesis spec: a comma list of package names, "all" for
// the six random packages, "aimed" for the aimed ones, "feedback" for the
// steered schedule ("feedback:a+b+c" repeats recorded choices), "none" or
// "" for none. Names are deduplicated, in order.
func Parse(spec string) ([]string, error) {
	var out []string
	add := func(n string) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	var unknown []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		switch {
		case item == "" || item == "none":
		case item == groupAll || item == groupAimed:
			for _, n := range group(item) {
				add(n)
			}
		case lookup(item) != nil || item == "feedback":
			add(item)
		case strings.HasPrefix(item, "feedback:"):
			if _, err := New(item); err != nil {
				return nil, err
			}
			add(item)
		default:
			unknown = append(unknown, item)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown nemesis %s in %q (known: %s, all, none)",
			strings.Join(quoteAll(unknown), ", "), spec, known())
	}
	return out, nil
}

func quoteAll(s []string) []string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return q
}

// set renders nodes as "{n1,n2}" in sorted order.
func set(nodes []string) string {
	s := slices.Clone(nodes)
	sort.Strings(s)
	return "{" + strings.Join(s, ",") + "}"
}

// sorted returns a sorted copy.
func sorted(nodes []string) []string {
	s := slices.Clone(nodes)
	sort.Strings(s)
	return s
}
