package campaign

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestRegistryFileLoads(t *testing.T) {
	r, err := LoadRegistry("../campaigns/reproduce.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, r.Reproducers)
	for _, p := range r.Reproducers {
		s, err := r.Spec(p)
		require.NoError(t, err, p.Bug)
		runs := s.Runs()
		require.Len(t, runs, 2*p.Seeds, "both releases, the same seeds")
		assert.Equal(t, runs[0].Seed, runs[1].Seed)
		assert.Equal(t, p.Affected, runs[0].Cell.Options)
		assert.Equal(t, p.Fixed, runs[1].Cell.Options)
	}
}

func TestRegistryRefusesIncompleteEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.yaml")
	require.NoError(t, os.WriteFile(path, []byte("reproducers:\n  - {bug: x, campaign: c.yaml, affected: {v: 1}, fixed: {v: 2}, expect: maybe}\n"), 0o644))
	_, err := LoadRegistry(path)
	assert.ErrorContains(t, err, `expect "maybe", want caught or hunt`)
	require.NoError(t, os.WriteFile(path, []byte("reproducers:\n  - {bug: x, campaign: c.yaml}\n"), 0o644))
	_, err = LoadRegistry(path)
	assert.ErrorContains(t, err, "needs bug, campaign, affected and fixed")
}

// TestAttemptsAndTable: runs to the first catch count in seed order, with
// their wall time; the table takes medians over the nights with a catch and
// names the last commit that reproduced the bug.
func TestAttemptsAndTable(t *testing.T) {
	p := Reproducer{Bug: "db #1", Affected: map[string]string{"v": "1"}, Fixed: map[string]string{"v": "2"}, Expect: "hunt"}
	rec := func(v string, seed int64, verdict harness.Validity, wall time.Duration) *Record {
		return &Record{Run: Run{Cell: Cell{Options: map[string]string{"v": v}}, Seed: seed}, Verdict: verdict, Wall: harness.Duration(wall)}
	}
	sum := &Summary{Cells: []CellSummary{
		{Cell: Cell{Options: p.Affected}, Records: []*Record{rec("1", 1, harness.Valid, 10*time.Second), rec("1", 2, harness.Unknown, 10*time.Second), rec("1", 3, harness.Invalid, 5*time.Second), rec("1", 4, harness.Invalid, time.Second)}},
		{Cell: Cell{Options: p.Fixed}, Records: []*Record{rec("2", 1, harness.Valid, time.Second), rec("2", 2, harness.Valid, time.Second)}},
	}}
	day := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	as := Attempts(p, sum, "abc123", "/d", day)
	require.Len(t, as, 2)
	assert.Equal(t, 4, as[0].Runs)
	assert.Equal(t, 2, as[0].Catches)
	assert.Equal(t, 1, as[0].Unknown)
	require.NotNil(t, as[0].RunsToFirst)
	assert.Equal(t, 3, *as[0].RunsToFirst)
	assert.Equal(t, 25.0, *as[0].SecondsToFirst)
	assert.Equal(t, []int64{1, 2, 3, 4}, as[0].Seeds)
	assert.Equal(t, 0, as[1].Catches)
	assert.Nil(t, as[1].RunsToFirst)

	hist := filepath.Join(t.TempDir(), "h.jsonl")
	require.NoError(t, AppendHistory(hist, as))
	later := Attempts(p, &Summary{Cells: []CellSummary{{Cell: Cell{Options: p.Affected}, Records: []*Record{rec("1", 1, harness.Invalid, 7*time.Second)}}}}, "def456", "/e", day.AddDate(0, 0, 1))
	require.NoError(t, AppendHistory(hist, later))
	h, err := ReadHistory(hist)
	require.NoError(t, err)
	require.Len(t, h, 4)
	var b bytes.Buffer
	require.NoError(t, WriteReproductionTable(&b, &Registry{Reproducers: []Reproducer{p}}, h))
	assert.Contains(t, b.String(), "| db #1 | affected | v=1 | 1/1 | 3/5 | 2 | 16 | def456, 2026-12-04 |")
	assert.Contains(t, b.String(), "| db #1 | fixed | v=2 | 0/0 | 0/2 | – | – | never |")
}
