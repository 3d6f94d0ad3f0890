package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A system nobody here wrote: examples/hashiraft, a store on hashicorp/raft
// written against package env. Its own tests run the same node in the
// simulation and as local processes, valid as it is and invalid with its
// stale-reads mistake (its own module, so `go test ./...` here does not
// reach them).
func TestHashiraftExample(t *testing.T) {
	mod, err := filepath.Abs("../examples/hashiraft")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "./...")
	cmd.Dir = mod
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, name := range []string{"TestSimValid", "TestSimStaleReadsInvalid", "TestLocalValid", "TestLocalStaleReadsInvalid"} {
		require.Contains(t, string(out), "--- PASS: "+name, "%s", out)
	}
}
