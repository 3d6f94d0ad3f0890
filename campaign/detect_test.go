package campaign

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestWilson(t *testing.T) {
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.2775},
		{10, 10, 0.7225, 1},
		{8, 10, 0.4902, 0.9433},
		{5, 10, 0.2366, 0.7634},
	} {
		lo, hi := Wilson(c.k, c.n)
		assert.InDelta(t, c.lo, lo, 1e-3, "%d/%d", c.k, c.n)
		assert.InDelta(t, c.hi, hi, 1e-3, "%d/%d", c.k, c.n)
	}
	lo, hi := Wilson(0, 0)
	assert.Equal(t, [2]float64{0, 1}, [2]float64{lo, hi}, "nothing measured: anything is possible")
}

// Every schedule runs every bug over the same seeds; aimed is left out for a
// system that reports no leader; the correct store has a row per schedule.
func TestDetectComparesSchedulesOverTheSameSeeds(t *testing.T) {
	var calls int64
	bugs := []harness.Bug{{Name: "stale-read", Workload: "kv", Nemesis: []string{"partition"}}}
	o := DetectOptions{
		Systems: []DetectSystem{
			{Name: "raft", Deploy: "local", Control: "kv", Nemeses: []string{"partition", "kill"}, Bugs: bugs, ReportsLeader: true},
			{Name: "quorum", Deploy: "local", Control: "kv-without-cas", Nemeses: []string{"partition"}, Bugs: bugs},
		},
		Seeds: 4, AllSeeds: true, Schedules: Schedules(),
		Options: Options{Dir: t.TempDir(), Parallel: 1, Template: baseTest(), Run: fakeRun(&calls)},
	}
	runs := DetectRuns(o)
	cells := map[string]int{}
	for _, r := range runs {
		cells[r.Cell.System+"/"+r.Cell.Nemesis+"/"+r.Cell.Bug]++
	}
	assert.Equal(t, map[string]int{
		"raft/partition/stale-read": 4, "raft/partition/": 4, "raft/kill/": 4,
		"quorum/partition/stale-read": 4, "quorum/partition/": 8,
		"raft/aimed/stale-read": 4, "raft/aimed/": 4,
		"raft/feedback/stale-read": 4, "raft/feedback/": 4,
		"quorum/feedback/stale-read": 4, "quorum/feedback/": 8,
	}, cells, "quorum's correct store runs its control workload and its catalog's (kv)")

	sum, _, err := Detect(context.Background(), o)
	require.NoError(t, err)
	for _, c := range sum.Cells {
		assert.Equal(t, 4, c.Runs, "%s: every seed runs, caught or not", c.Key)
	}
	var b strings.Builder
	require.NoError(t, WriteDetectTable(&b, sum, nil))
	out := b.String()
	assert.Contains(t, out, "2/4") // fakeRun catches even seeds under partition
	assert.Contains(t, out, "50% [15–85]")
	assert.Regexp(t, `raft\s+aimed\s+kv\s+4\s+0\s+0% \[0–49\]`, out)
	assert.Regexp(t, `quorum\s+feedback\s+kv-without-cas\s+4\s+0`, out)
	assert.Regexp(t, `quorum\s+feedback\s+kv\s+4\s+0`, out)
	assert.NotRegexp(t, `quorum\s+aimed`, out)

	o.NoControls = true
	for _, r := range DetectRuns(o) {
		assert.NotEmpty(t, r.Cell.Bug, "no correct-store runs")
	}
}

// On the sim deployment a simulation-reach bug runs with its own
// simulation packages, options and workload, once whatever the schedules;
// elsewhere (and without a recipe) as before.
func TestDetectSimColumnUsesTheBugsSimRecipe(t *testing.T) {
	bugs := []harness.Bug{
		{Name: "stale-read", Workload: "kv", Nemesis: []string{"partition"}},
		{Name: "snap", Workload: "kv", Nemesis: []string{"kill"}, Reach: harness.ReachSimulation,
			SimNemesis: []string{"crash-storm"}, SimOptions: map[string]string{"raft-snapshot-threshold": "20"}, SimWorkload: "list-append"},
		{Name: "plain", Workload: "kv", Nemesis: []string{"kill"}, Reach: harness.ReachSimulation},
	}
	o := DetectOptions{Systems: []DetectSystem{{Name: "raft", Deploy: DeploySim, Control: "kv", Bugs: bugs, ReportsLeader: true}},
		Seeds: 2, Schedules: Schedules(), NoControls: true}
	cells := map[string]int{}
	for _, r := range DetectRuns(o) {
		cells[r.Cell.Key()]++
	}
	assert.Equal(t, map[string]int{
		"raft/sim/kv/partition/stale-read": 2, "raft/sim/kv/aimed/stale-read": 2, "raft/sim/kv/feedback/stale-read": 2,
		"raft/sim/list-append/crash-storm/snap/raft-snapshot-threshold=20": 2,
		"raft/sim/kv/kill/plain": 2, "raft/sim/kv/aimed/plain": 2, "raft/sim/kv/feedback/plain": 2,
	}, cells)

	o.Systems[0].Deploy = "local"
	for _, r := range DetectRuns(o) {
		assert.NotEqual(t, "snap", r.Cell.Bug, "off the sim deployment the simulation judges it")
	}
}
