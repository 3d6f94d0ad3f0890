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

// names in the order "all" expands to.
var names = []string{"partition", "kill", "pause", "clock", "loss", "latency"}

// targeted are packages accepted by name, not part of "all": one fault
// aimed at one role, or every node at once.
var targeted = []string{"pause-leader", "power-loss", "stutter"}

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
	return slices.Contains(names, name) || slices.Contains(targeted, name) || slices.Contains(aimed, name)
}

// known lists every name New accepts, for error messages.
func known() string {
	return strings.Join(append(append(Names(), targeted...), aimed...), ", ") + ", feedback[:a+b+…]"
}

// New returns a fresh instance of the named package (instances keep what
// they must heal, so use one per run).
func New(name string) (harness.Nemesis, error) {
	switch name {
	case "partition":
		return &Partition{}, nil
	case "kill":
		return &Kill{}, nil
	case "pause":
		return &Pause{}, nil
	case "pause-leader":
		return &Pause{LeaderOnly: true}, nil
	case "power-loss":
		return &PowerLoss{}, nil
	case "stutter":
		return &Stutter{}, nil
	case "clock":
		return &Clock{}, nil
	case "loss":
		return &Loss{}, nil
	case "latency":
		return &Latency{}, nil
	case "leader-minority":
		return &LeaderMinority{}, nil
	case "new-leader":
		return &NewLeader{}, nil
	case "kill-leader":
		return &KillLeader{}, nil
	case "flap":
		return &Flap{}, nil
	case "pause-leader-brief":
		return &PauseLeaderBrief{}, nil
	case "stale-candidate":
		return &StaleCandidate{}, nil
	case "slow-election":
		return &SlowElection{}, nil
	case "feedback":
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
		case item == "all":
			for _, n := range names {
				add(n)
			}
		case item == "aimed":
			for _, n := range aimed {
				add(n)
			}
		case slices.Contains(names, item) || slices.Contains(targeted, item) || slices.Contains(aimed, item) || item == "feedback":
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
