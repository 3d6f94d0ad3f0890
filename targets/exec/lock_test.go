package exec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestLockDeclaration(t *testing.T) {
	s, err := New("exec:x", systemFile(t, "protocol: 1\ncommand: [x]\nlock: true\nlock_ttl: 3s\n"))
	require.NoError(t, err, "locks need no protocol version")
	assert.Equal(t, []harness.Feature{harness.FeatureLock}, harness.FeaturesOf(s))
	assert.Equal(t, 3*time.Second, s.lockTTL())

	s, err = New("exec:x", systemFile(t, "protocol: 2\ncommand: [x]\ntxn: true\nlock: true\n"))
	require.NoError(t, err)
	assert.Equal(t, []harness.Feature{harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd, harness.FeatureLock}, harness.FeaturesOf(s))

	s, err = New("exec:x", systemFile(t, "protocol: 2\ncommand: [x]\n"))
	require.NoError(t, err)
	assert.Contains(t, s.Lacks(harness.FeatureLock), "lock: true")

	for body, want := range map[string]string{
		"protocol: 2\ncommand: [x]\nlock_ttl: 1s\n":              "does not say lock: true",
		"protocol: 2\ncommand: [x]\nlock: true\nlock_ttl: 1ms\n": "lock_ttl: 1ms is out of",
	} {
		_, err := Load(systemFile(t, body))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
	}
}
