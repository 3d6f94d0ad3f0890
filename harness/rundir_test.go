package harness

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A run written at once (an import) reads back as the runner's runs do, and
// a folder missing files reads as far as it goes.
func TestRunFolderRoundTrip(t *testing.T) {
	start := time.Date(2026, 12, 3, 22, 1, 2, 0, time.FixedZone("x", 3600))
	assert.Equal(t, "20261203T210102Z", Stamp(start))
	dir, err := NewRunDir(t.TempDir(), "imported-x", start)
	require.NoError(t, err)
	assert.Equal(t, "20261203T210102Z", filepath.Base(dir))

	tst := Test{Name: "imported-x", System: "imported", Workload: "w"}
	h := History{{Index: 0, Process: 0, Type: Invoke, F: FWrite, Key: "k", Value: Str("1")},
		{Index: 1, Process: 0, Type: OK, F: FWrite, Key: "k", Value: Str("1"), Time: 5}}
	res := &Results{Test: tst, Checkers: []Result{{Checker: "c", Validity: Valid}}}
	res.Judge(h)
	require.NoError(t, WriteRun(dir, tst, h, res))

	f, err := ReadRun(dir)
	require.NoError(t, err)
	assert.Equal(t, tst.Name, f.Test.Name)
	assert.Equal(t, h, f.History)
	require.NotNil(t, f.Results)
	assert.Equal(t, Valid, f.Results.Verdict)
	assert.Empty(t, f.Missing, "digests are optional")
	assert.Equal(t, []string{ConfigFile, HistoryFile, ResultsFile}, f.Files)

	require.NoError(t, os.Remove(filepath.Join(dir, ResultsFile)))
	f, err = ReadRun(dir)
	require.NoError(t, err)
	assert.Nil(t, f.Results)
	assert.Equal(t, []string{ResultsFile}, f.Missing)
	assert.Equal(t, tst.Name, f.Test.Name, "from config.json")

	_, err = ReadRun(filepath.Join(dir, "nope"))
	assert.Error(t, err)
}
