package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestKnobFlagsRoundTripAndReplay(t *testing.T) {
	tst, err := parseRun(t, "--workload", "list-append", "--keys", "4", "--min-txn-length", "2", "--max-txn-length", "5",
		"--max-writes-per-key", "12", "--consistency", "serializable", "--seed", "3")
	require.NoError(t, err)
	assert.Equal(t, 4, tst.Keys)
	assert.Equal(t, "serializable", tst.Consistency)
	back, err := parseRun(t, strings.Fields(tst.WithDefaults().CommandLine())[2:]...)
	require.NoError(t, err)
	assert.Equal(t, tst.WithDefaults(), back.WithDefaults())

	dir := t.TempDir()
	stored := harness.Test{Name: "x", System: "raft", Deploy: "local", Workload: "bank", Accounts: 5,
		Consistency: "", TimeLimit: harness.Duration(9 * time.Second), Seed: 7}.WithDefaults()
	require.NoError(t, writeTestJSON(filepath.Join(dir, harness.ConfigFile), stored))
	tst, err = parseRun(t, "--replay", dir)
	require.NoError(t, err)
	assert.Equal(t, 5, tst.Accounts, "the stored knob")
	tst, err = parseRun(t, "--replay", dir, "--accounts", "3")
	require.NoError(t, err)
	assert.Equal(t, 3, tst.Accounts, "an explicit flag overrides")
}

func TestHelpListsWorkloadsAndKnobs(t *testing.T) {
	e, out, _ := testEnv()
	assert.Equal(t, 0, dispatch(context.Background(), e, []string{"run", "-h"}))
	for _, want := range []string{"list-append ", "rw-register ", "bank ", "Elle's list-append", "-max-writes-per-key", "-consistency", "strict-serializable"} {
		assert.Contains(t, out.String(), want)
	}
	for _, args := range [][]string{{"run", "--workload", "kv", "--accounts", "3"}, {"run", "--workload", "list-append", "--consistency", "acid"},
		{"run", "--system", "quorum", "--workload", "bank"}} {
		e, _, errb := testEnv()
		assert.Equal(t, harness.ExitUsage, dispatch(context.Background(), e, args), args)
		assert.Equal(t, 1, strings.Count(errb.String(), "\n"), "%v: %q", args, errb)
	}
}
