package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// The real-product example (examples/natskv: NATS JetStream key-value on
// three real nats-server processes, built from the module proxy) passes its
// own go test: the bucket is created at setup, its leader is killed, and
// the run is valid. Without a module proxy the example cannot be built:
// that skips the test on a developer's machine and fails it in CI.
func TestRealProductExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nats-server and runs a cluster: skipped with -short")
	}
	mod, err := filepath.Abs("../examples/natskv")
	require.NoError(t, err)
	results := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestNATSKV$", ".")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GAUNTLET_RESULTS="+results)
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil && os.Getenv("CI") != "true" && strings.Contains(out, "proxy") && !strings.Contains(out, "--- FAIL") {
		t.Skipf("examples/natskv cannot be built here (no module proxy?); set CI=true to make this a failure:\n%s", out)
	}
	require.NoError(t, err, out)

	runs, err := filepath.Glob(filepath.Join(results, "natskv-*", "2*"))
	require.NoError(t, err)
	require.Len(t, runs, 1)
	res, err := harness.ReadResults(runs[0])
	require.NoError(t, err)
	assert.Equal(t, harness.Valid, res.Verdict)
	assert.FileExists(t, filepath.Join(runs[0], harness.ReportFile))
	assertNoProcessUnder(t, results)
}
