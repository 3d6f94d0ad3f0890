package gobuild

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReusesCachedBinary: a binary already in the cache is returned without
// running the go command (the context is cancelled, so any build would fail).
func TestReusesCachedBinary(t *testing.T) {
	cache := t.TempDir()
	bin := filepath.Join(cache, "srv-v1.2.3", "srv")
	require.NoError(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	require.NoError(t, os.WriteFile(bin, []byte("x"), 0o755))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := Build(ctx, Wrapper{Name: "srv", Version: "v1.2.3"}, cache, nil)
	require.NoError(t, err)
	assert.Equal(t, bin, got)
}

func TestTail(t *testing.T) {
	assert.Equal(t, "short", tail("short", 10))
	assert.Equal(t, "…"+strings.Repeat("b", 3), tail("aaab"+"bb", 3))
}
