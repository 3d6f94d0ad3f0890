package gauntlettest

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// The replay line a failure prints carries what the test needed: the
// GAUNTLET_ variables set, those read through Getenv (from subtests too),
// and the run folder to repeat.
func TestReplayLineCarriesTheEnvironment(t *testing.T) {
	t.Setenv("GAUNTLET_RESULTS", "/tmp/my results")
	t.Setenv("GAUNTLET_SEED", "7")
	t.Setenv("MY_SERVER_BIN", "/opt/srv")
	t.Setenv("UNRELATED", "x")
	t.Run("sub", func(t *testing.T) {
		assert.Equal(t, "/opt/srv", Getenv(t, "MY_SERVER_BIN"))
		assert.Empty(t, Getenv(t, "NOT_SET_ANYWHERE"))
	})
	line := replayCommand(t)(harness.Test{}, "/runs/x/20261207T000000Z")
	wd, _ := os.Getwd()
	assert.True(t, strings.HasPrefix(line, "cd "+wd+" && "), line)
	assert.Contains(t, line, "GAUNTLET_RESULTS='/tmp/my results' MY_SERVER_BIN=/opt/srv GAUNTLET_REPLAY=/runs/x/20261207T000000Z go test -count=1")
	assert.Contains(t, line, "-run '^TestReplayLineCarriesTheEnvironment$' .")
	assert.NotContains(t, line, "GAUNTLET_SEED", "the stored run fixes the seed")
	assert.NotContains(t, line, "UNRELATED")
	assert.NotContains(t, line, "NOT_SET_ANYWHERE")
}
