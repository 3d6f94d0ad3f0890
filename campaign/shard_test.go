package campaign

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseShard(t *testing.T) {
	s, err := ParseShard("2/3")
	require.NoError(t, err)
	assert.Equal(t, Shard{2, 3}, s)
	assert.Equal(t, "2/3", s.String())
	for _, bad := range []string{"", "3", "0/3", "4/3", "a/b", "1/0", "-1/2"} {
		_, err := ParseShard(bad)
		assert.ErrorContains(t, err, "I/N", bad)
	}
}

func TestSpecHostsReachTheRuns(t *testing.T) {
	s := Spec{Deploy: []string{"ssh"}, Hosts: "/etc/gauntlet/hosts.yaml"}
	tst := s.Test(s.Runs()[0], baseTest(), t.TempDir())
	assert.Equal(t, "ssh", tst.Deploy)
	assert.Equal(t, "/etc/gauntlet/hosts.yaml", tst.Hosts)
}

func TestShardsCoverTheMatrixOnce(t *testing.T) {
	spec := Spec{Systems: []string{"raft", "quorum"}, Nemesis: []string{"partition", "kill"}, Bugs: []string{"none", "stale-read"}, Seeds: 3}
	all := spec.Runs()
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		part := Shard{i, 3}.Select(all)
		assert.InDelta(t, len(all)/3, len(part), 1, "shares are even")
		assert.Equal(t, part, Shard{i, 3}.Select(spec.Runs()), "the same file gives the same share")
		for _, r := range part {
			seen[r.Key()]++
		}
	}
	assert.Len(t, seen, len(all))
	for k, n := range seen {
		assert.Equal(t, 1, n, k)
	}
}

func TestThreeShardsMergedEqualTheWholeCampaign(t *testing.T) {
	spec := Spec{Name: "spread", Systems: []string{"raft", "quorum"}, Nemesis: []string{"partition", "kill"},
		Bugs: []string{"none", "stale-read"}, Seeds: 4, TimeLimit: "20s"}
	var calls int64
	whole, err := Execute(context.Background(), spec, Options{Dir: filepath.Join(t.TempDir(), "whole"), Parallel: 2, Template: baseTest(), Run: fakeRun(&calls)})
	require.NoError(t, err)

	base := t.TempDir()
	var dirs []string
	for i := 1; i <= 3; i++ {
		dir := filepath.Join(base, fmt.Sprintf("shard%d", i))
		dirs = append(dirs, dir)
		_, err := Execute(context.Background(), spec, Options{Dir: dir, Parallel: 2, Template: baseTest(), Run: fakeRun(&calls), Shard: Shard{i, 3}})
		require.NoError(t, err)
	}
	assert.Equal(t, int64(2*len(spec.Runs())), calls, "each run ran once unsplit and once in some shard")
	out := filepath.Join(base, "merged")
	junit := filepath.Join(out, "junit.xml")
	merged, err := Merge(dirs, out, junit)
	require.NoError(t, err)
	assert.Empty(t, merged.Missing)
	assert.Equal(t, whole.Word(), merged.Word())
	assert.Equal(t, "FAIL", whole.Word(), "the fake never catches the bug under kill: a failing cell must survive the merge")
	require.Equal(t, len(whole.Cells), len(merged.Cells))
	for i := range whole.Cells {
		w, m := whole.Cells[i], merged.Cells[i]
		assert.Equal(t, w.Key, m.Key)
		assert.Equal(t, []any{w.Runs, w.Valid, w.Invalid, w.Unknown, w.Errors, w.Pass, w.Reason, w.MedianDetect, w.MaxDetect},
			[]any{m.Runs, m.Valid, m.Invalid, m.Unknown, m.Errors, m.Pass, m.Reason, m.MedianDetect, m.MaxDetect}, w.Key)
		for j := range w.Records {
			assert.Equal(t, w.Records[j].Run, m.Records[j].Run)
			assert.Equal(t, w.Records[j].Verdict, m.Records[j].Verdict)
			assert.Equal(t, w.Records[j].FirstViolation, m.Records[j].FirstViolation)
			assert.FileExists(t, filepath.Join(out, m.Records[j].Dir, "results.json"), "merged records point at the shards' runs")
		}
	}
	assert.Equal(t, whole.Runs, merged.Runs)
	assert.Equal(t, whole.Pass, merged.Pass)
	for _, f := range []string{"summary.json", "summary.html", StateFile, "junit.xml"} {
		assert.FileExists(t, filepath.Join(out, f))
	}

	// Two shards only: the third's runs are missing, by name.
	out2 := filepath.Join(base, "partial")
	partial, err := Merge(dirs[:2], out2, "")
	require.NoError(t, err)
	assert.Len(t, partial.Missing, len(Shard{3, 3}.Select(spec.Runs())))
	assert.Equal(t, Shard{3, 3}.Select(spec.Runs())[0].Key(), partial.Missing[0])
	assert.Equal(t, len(partial.Missing), partial.NotStarted)
	html, err := os.ReadFile(filepath.Join(out2, "summary.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), partial.Missing[0])

	// The merged folder resumes as a whole campaign: only the missing runs run.
	before := calls
	sum, err := Execute(context.Background(), spec, Options{Dir: out2, Parallel: 2, Template: baseTest(), Run: fakeRun(&calls)})
	require.NoError(t, err)
	assert.Equal(t, int64(len(partial.Missing)), calls-before)
	assert.Equal(t, whole.Word(), sum.Word())
	assert.Equal(t, whole.Runs, sum.Runs)
}

func TestMergeRefusesMixedCampaigns(t *testing.T) {
	var calls int64
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	_, err := Execute(context.Background(), Spec{Name: "x", Seeds: 2}, Options{Dir: a, Template: baseTest(), Run: fakeRun(&calls), Shard: Shard{1, 2}})
	require.NoError(t, err)
	_, err = Execute(context.Background(), Spec{Name: "x", Seeds: 3}, Options{Dir: b, Template: baseTest(), Run: fakeRun(&calls), Shard: Shard{2, 2}})
	require.NoError(t, err)
	_, err = Merge([]string{a, b}, filepath.Join(t.TempDir(), "m"), "")
	assert.ErrorContains(t, err, "different campaign")
	_, err = Merge([]string{t.TempDir()}, filepath.Join(t.TempDir(), "m"), "")
	assert.ErrorContains(t, err, "not a campaign folder")
	_, err = Execute(context.Background(), Spec{Name: "x", Seeds: 2}, Options{Dir: a, Template: baseTest(), Run: fakeRun(&calls), Shard: Shard{2, 2}})
	assert.ErrorContains(t, err, "shard", "a shard folder resumes only as the same shard")
}
