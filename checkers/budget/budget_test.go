package budget

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"2GiB": 2 << 30, "512 MiB": 512 << 20, "64KiB": 64 << 10, "1000": 1000, "1.5GiB": 3 << 29} {
		got, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "lots", "-1GiB", "0", "2GB"} {
		_, err := Parse(bad)
		assert.Error(t, err, bad)
	}
	t.Setenv(EnvVar, "3GiB")
	assert.Equal(t, int64(3<<30), Default())
	t.Setenv(EnvVar, "nonsense")
	assert.Equal(t, int64(DefaultBytes), Default())
}

// A heap that grows past the budget is noticed within a few samples.
func TestWatchNoticesGrowth(t *testing.T) {
	w := Start(8 << 20)
	defer w.Stop()
	assert.False(t, w.Exceeded())
	var hold [][]byte
	deadline := time.Now().Add(5 * time.Second)
	for !w.Exceeded() && time.Now().Before(deadline) {
		hold = append(hold, make([]byte, 1<<20))
		time.Sleep(time.Millisecond)
	}
	require.True(t, w.Exceeded(), "grew %d MiB without notice", len(hold))
	assert.Less(t, len(hold), 64, "noticed late")
	assert.Contains(t, w.Reason(), "memory budget of 8 MiB")
}
