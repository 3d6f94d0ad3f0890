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
