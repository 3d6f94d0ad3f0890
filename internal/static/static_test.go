package static

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "script")
	require.NoError(t, os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755))
	assert.ErrorContains(t, Check(notELF), "not a Linux executable")
	sh, err := exec.LookPath("sh")
	if err == nil {
		// /bin/sh is dynamically linked on every distribution this runs on.
		assert.ErrorContains(t, Check(sh), "dynamically linked")
	}
}
