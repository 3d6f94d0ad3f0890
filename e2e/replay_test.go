package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// oldConfig is a config.json as Gauntlet wrote it before runs recorded
// every value: no timescale, no system options left at their defaults, and
// rate, read fraction and bug left out when zero.
const oldConfig = `{
  "name": "raft-kv-kill",
  "system": "raft",
  "deploy": "local",
  "workload": "kv",
  "nemesis": ["kill"],
  "nemesis_interval": "2s",
  "nodes": 3,
  "concurrency": 4,
  "time_limit": "5s",
  "recovery_limit": "30s",
  "check_timeout": "1m0s",
  "op_timeout": "1s",
  "seed": 42,
  "out": "results"
}
`

// A run folder written before this change still replays, and the replay's
// config.json holds every value, resolved.
func TestReplayOfAnOlderRunFolder(t *testing.T) {
	old := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(old, harness.ConfigFile), []byte(oldConfig), 0o644))
	out := t.TempDir()
	code, stdout, stderr := gauntlet(t, 2*time.Minute, "run", "--replay", old, "--out", out)
	require.Equal(t, harness.ExitValid, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	tst, err := harness.ReadTest(resultsLine(t, stdout))
	require.NoError(t, err)
	assert.EqualValues(t, 42, tst.Seed)
	assert.Equal(t, 2*time.Second, tst.NemesisInterval.D(), "the stored interval, not today's default")
	assert.Equal(t, 500*time.Millisecond, tst.Timescale.D(), "kvnode's raft mode declares its election timeout")
	assert.Equal(t, 0.5, tst.ReadFraction, "the workload's default, resolved")
	assert.NotNil(t, tst.Options)
}
