package cli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/campaign"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/nemesis"
	"github.com/gauntlet-dev/gauntlet/registry"
)

func TestCampaignMergeNamesMissingRuns(t *testing.T) {
	spec := campaign.Spec{Name: "m", Nemesis: []string{"partition"}, Seeds: 4}
	valid := func(ctx context.Context, tst harness.Test) (*harness.Results, error) {
		return &harness.Results{Test: tst, Verdict: harness.Valid}, nil
	}
	base := t.TempDir()
	var dirs []string
	for i := 1; i <= 2; i++ { // shards 1 and 2 of 3
		d := filepath.Join(base, "s", string(rune('0'+i)))
		dirs = append(dirs, d)
		_, err := campaign.Execute(t.Context(), spec, campaign.Options{Dir: d, Run: valid, Shard: campaign.Shard{Index: i, Count: 3}})
		require.NoError(t, err)
	}
	e, out, errb := testEnv()
	code := dispatch(t.Context(), e, append([]string{"campaign", "merge", "--dir", filepath.Join(base, "merged")}, dirs...))
	assert.Equal(t, 2, code, "missing runs are never a pass: %s", errb)
	assert.Contains(t, out.String(), "missing 1 runs")
	assert.Contains(t, out.String(), "raft/local/kv/partition/none/seed-2")

	e, _, errb = testEnv()
	assert.Equal(t, harness.ExitUsage, dispatch(t.Context(), e, []string{"campaign", "merge", t.TempDir()}))
	assert.Contains(t, errb.String(), "not a campaign folder")
	e, _, errb = testEnv()
	assert.Equal(t, harness.ExitUsage, dispatch(t.Context(), e, []string{"campaign", "--shard", "4/3", "x.yaml"}))
	assert.Contains(t, errb.String(), "I/N")
}

func TestBenchControlsCoverThePackagesTakenByNameOnly(t *testing.T) {
	dep, err := registry.Deployment(harness.Test{Deploy: "local"}, nil)
	require.NoError(t, err)
	for _, name := range []string{"raft", "quorum"} {
		sys, err := registry.System(name, nil, nil)
		require.NoError(t, err)
		got := controlNemeses(sys, dep)
		assert.Subset(t, got, append(nemesis.Names(), nemesis.Targeted()...), name)
		for _, a := range nemesis.Aimed() {
			assert.NotContains(t, got, a, "%s: aimed packages have their own schedule", name)
		}
	}
	etcd, err := registry.System("etcd", nil, nil)
	require.NoError(t, err)
	got := controlNemeses(etcd, dep)
	assert.NotContains(t, got, "partition", "local cannot partition etcd")
	assert.Contains(t, got, "stutter")
}

// The nightly proof measures what a user gets: bench detect with no flags
// runs the schedule `gauntlet run` defaults to, stopping each run at its
// first proven violation.
func TestBenchDetectDefaultsAreRunDefaults(t *testing.T) {
	tst, err := parseRun(t)
	require.NoError(t, err)
	assert.Equal(t, []string{campaign.ScheduleDefault}, tst.Nemesis)
	runs := campaign.DetectRuns(campaign.DetectOptions{Systems: []campaign.DetectSystem{{Name: "raft", Control: "kv", Bugs: []harness.Bug{
		{Name: "a", Workload: "kv", Nemesis: []string{"partition"}},
		{Name: "b", Workload: "list-append", Nemesis: []string{"kill"}},
		{Name: "c", Workload: "kv", Nemesis: []string{"kill"}, Reach: harness.ReachSimulation},
	}}}})
	cells := map[string]int{}
	for _, r := range runs {
		assert.Equal(t, campaign.ScheduleDefault, r.Cell.Nemesis, "%+v", r.Cell)
		cells[r.Cell.Workload+"/"+r.Cell.Bug]++
	}
	n := campaign.DefaultDetectSeeds
	assert.Equal(t, map[string]int{"kv/a": n, "list-append/b": n, "kv/": n, "list-append/": n}, cells,
		"every bug, and the correct store with each catalog workload; a simulation-reach bug is the simulation's")
}

// The catalog's reach column names the schedule that catches each bug.
func TestBugsSayWhichScheduleCatchesEach(t *testing.T) {
	e, out, errb := testEnv()
	require.Equal(t, 0, dispatch(t.Context(), e, []string{"bugs", "--system", "raft"}), errb.String())
	assert.Regexp(t, `(?m)^raft\s+stale-read\s+kv\s+partition\s+`+campaign.ScheduleDefault+`\s`, out.String())
	assert.Regexp(t, `(?m)^raft\s+forget-vote\s+kv\s+\S+\s+simulation\s`, out.String())
}
