package report

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

// resultsTree writes three runs an hour apart: valid (oldest), invalid, evil (newest).
func resultsTree(t *testing.T) string {
	root := t.TempDir()
	for i, f := range []fixture{validFixture(), invalidFixture(), evilFixture()} {
		f.start = fixtureStart.Add(time.Duration(i) * time.Hour)
		writeFixture(t, root, f)
	}
	// A symlink like results/latest must not list a run twice.
	require.NoError(t, os.Symlink(filepath.Join(root, "evil"), filepath.Join(root, "latest")))
	return root
}

func TestWriteIndex(t *testing.T) {
	root := resultsTree(t)
	require.NoError(t, Write(t.Context(), filepath.Join(root, "evil", "20261122T080000Z")))
	require.NoError(t, WriteIndex(root))
	b, err := os.ReadFile(filepath.Join(root, IndexFile))
	require.NoError(t, err)
	page := string(b)

	assert.Equal(t, 3, strings.Count(page, `<tr class="`), "one row per run")
	iEvil := strings.Index(page, `data-test="evil"`)
	iInvalid := strings.Index(page, `data-test="raft-stale-read-kv-partition"`)
	iValid := strings.Index(page, `data-test="raft-kv-partition"`)
	require.True(t, iEvil > 0 && iInvalid > 0 && iValid > 0)
	assert.Less(t, iEvil, iInvalid, "newest first")
	assert.Less(t, iInvalid, iValid, "newest first")
	has(t, page, `href="evil/20261122T080000Z/report.html"`, "links the report when there is one")
	has(t, page, `href="raft-kv-partition/20261122T060000Z/results.json"`, "else the results")
	has(t, page, "read of k3 returned 7")
	has(t, page, `invalid (2)`)
	hasNot(t, page, "<script>alert")
}

func TestHandler(t *testing.T) {
	root := resultsTree(t)
	srv := httptest.NewServer(Handler(root))
	t.Cleanup(srv.Close)
	get := func(p string) (int, string) {
		resp, err := http.Get(srv.URL + p)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, body := get("/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "gauntlet runs")
	assert.Contains(t, body, `data-test="evil"`)

	// No report.html on disk: rendered on the fly, and nothing written.
	code, body = get("/raft-stale-read-kv-partition/20261122T070000Z/report.html")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `id="verdict">invalid<`)
	assert.NoFileExists(t, filepath.Join(root, "raft-stale-read-kv-partition", "20261122T070000Z", h.ReportFile))

	code, body = get("/raft-kv-partition/20261122T060000Z/nodes/n1/kvnode.log")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "applied entries")

	code, _ = get("/../../etc/passwd")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = get("/nope/x/report.html")
	assert.Equal(t, http.StatusNotFound, code)
}
