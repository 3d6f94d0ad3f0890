package source

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModuleDirFromAnywhere(t *testing.T) {
	root, err := ModuleDir() // the test runs inside the checkout
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(root, "go.mod"))

	// Outside any checkout, the compiled-in source path still finds it.
	t.Chdir(t.TempDir())
	got, err := ModuleDir()
	require.NoError(t, err)
	assert.Equal(t, root, got)

	// An explicit GAUNTLET_SOURCE wins, and a wrong one is an error naming it.
	t.Setenv(Env, root)
	got, err = ModuleDir()
	require.NoError(t, err)
	assert.Equal(t, root, got)
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "go.mod"), []byte("module example.com/other\n"), 0o644))
	t.Setenv(Env, bad)
	_, err = ModuleDir()
	assert.ErrorContains(t, err, Env+"="+bad)
}
