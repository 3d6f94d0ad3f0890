package env

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOSDiskLockAndFiles(t *testing.T) {
	e := OS()
	dir := filepath.Join(t.TempDir(), "d")
	require.NoError(t, e.MkdirAll(dir, 0o755))
	l, err := e.Lock(filepath.Join(dir, "LOCK"))
	require.NoError(t, err)
	_, err = e.Lock(filepath.Join(dir, "LOCK"))
	require.Error(t, err, "a second holder is refused")
	require.NoError(t, l.Close())
	f, err := e.OpenFile(filepath.Join(dir, "f"), os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	require.NoError(t, f.Close())
	require.NoError(t, e.SyncDir(dir))
	_, err = e.OpenFile(filepath.Join(dir, "missing"), os.O_RDONLY, 0)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestContextNetworkAndTimers(t *testing.T) {
	assert.Equal(t, OS(), NetworkOf(context.Background()))
	var n Network = osEnv{}
	assert.Equal(t, n, NetworkOf(WithNetwork(context.Background(), n)))
	require.NoError(t, Sleep(context.Background(), OS(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, Sleep(ctx, OS(), time.Hour), context.Canceled)
	assert.NotEqual(t, OS().Seed(), OS().Seed())
}
