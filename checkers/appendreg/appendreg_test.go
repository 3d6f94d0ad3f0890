package appendreg_test

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

	"github.com/gauntlet-dev/gauntlet/checkers/appendreg"
	"github.com/gauntlet-dev/gauntlet/formats/jepsen"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// A search that would outgrow the memory budget is unknown, with the
// reason, long before its timeout: porcupine's c50 kv log, 50 clients.
func TestMemoryBudget(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anishathalye/porcupine").Output()
	require.NoError(t, err)
	path := filepath.Join(strings.TrimSpace(string(out)), "test_data", "kv", "c50-ok.txt")
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h, err := jepsen.Decode(f, path, "", jepsen.KVAppend)
	require.NoError(t, err)
	start := time.Now()
	c := appendreg.Checker{Timeout: time.Minute, MemoryBudget: 4 << 20}
	r := c.Check(context.Background(), harness.CheckInput{History: h})
	assert.Equal(t, harness.Unknown, r.Validity, r.Summary)
	assert.Contains(t, r.Summary, "memory budget of 4 MiB", "the budget, not the timeout, ended it")
	t.Logf("ended in %s", time.Since(start).Round(time.Millisecond))
}
