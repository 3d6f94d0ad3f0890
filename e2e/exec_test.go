package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/gauntlettest"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// pystore is examples/pystore: a store in Python, no Go, tested through
// --system exec:FILE and the wire protocol.
func pystore(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3 is needed for the exec example (.ci/run installs it): %v", err)
		}
		t.Skipf("python3 is not installed: the Python example store cannot run: %v", err)
	}
	f, err := filepath.Abs("../examples/pystore/system.yaml")
	require.NoError(t, err)
	return "exec:" + f
}

func TestPythonStoreIsValid(t *testing.T) {
	gauntlettest.Run(t, harness.Test{
		System: pystore(t), Nodes: 3, Concurrency: 6, Nemesis: []string{"partition", "kill"},
		NemesisInterval: seconds(3), TimeLimit: seconds(12), Seed: 1,
	})
}

func TestPythonStoreLosingAckedWritesIsInvalid(t *testing.T) {
	res := gauntlettest.RunCatch(t, harness.Test{
		System: pystore(t), Bug: "lose-acked-writes", Nodes: 3, Concurrency: 6, Nemesis: []string{"partition", "kill"},
		NemesisInterval: seconds(3), TimeLimit: seconds(12),
	}, 3, 1, 2, 4)
	require.NotNil(t, res.FirstAnomaly())
}

// Bad system files are refused before anything starts; a node that never
// serves ends the run with exit 3 and what it wrote.
func TestExecSystemFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return "exec:" + p
	}
	for name, c := range map[string]struct{ body, want string }{
		"placeholder.yaml": {"protocol: 1\ncommand: [python3, x.py, --listen, \"{lisen}\"]\n", "unknown placeholder {lisen}"},
		"nocommand.yaml":   {"protocol: 1\nstatus: true\n", "command: missing"},
		"protocol.yaml":    {"protocol: 7\ncommand: [x]\n", "speaks protocol 1"},
		"typo.yaml":        {"protocol: 1\ncommand: [x]\nstauts: true\n", "stauts"},
	} {
		code, _, stderr := gauntlet(t, 2*time.Minute, "run", "--system", write(name, c.body), "--out", dir)
		assert.Equal(t, harness.ExitUsage, code, name)
		assert.Contains(t, stderr, c.want, name)
	}
	_, _, stderr := gauntlet(t, 2*time.Minute, "run", "--system", "exec:", "--out", dir)
	assert.Contains(t, stderr, "needs the path of a system file")

	sys := write("dies.yaml", "protocol: 1\ncommand: [sh, -c, \"echo cannot open {data}/db: permission denied; exit 3\"]\nhealth: /health\n")
	code, stdout, stderr := gauntlet(t, 2*time.Minute, "run", "--system", sys, "--nodes", "2", "--time-limit", "2s", "--out", dir)
	assert.Equal(t, harness.ExitRunFail, code, stdout+stderr)
	assert.Contains(t, stdout+stderr, "permission denied", "the tail of the node's log is shown")
	assertNoProcessUnder(t, dir)
}
