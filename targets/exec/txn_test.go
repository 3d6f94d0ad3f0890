package exec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestTxnDeclaration(t *testing.T) {
	s, err := New("exec:x", systemFile(t, "protocol: 2\ncommand: [x]\ntxn: true\nconsistency: serializable\n"))
	require.NoError(t, err)
	assert.Equal(t, []harness.Feature{harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd}, harness.FeaturesOf(s))
	assert.Equal(t, "serializable", harness.ConsistencyOf(s))

	s, err = New("exec:x", systemFile(t, "protocol: 1\ncommand: [x]\n"))
	require.NoError(t, err, "a version 1 file still loads")
	assert.Empty(t, harness.FeaturesOf(s))
	assert.Empty(t, harness.ConsistencyOf(s))
	assert.Contains(t, s.Lacks(harness.FeatureTxnAppend), "txn: true")

	for body, want := range map[string]string{
		"protocol: 1\ncommand: [x]\ntxn: true\n":                     "txn: true needs protocol 2",
		"protocol: 2\ncommand: [x]\nconsistency: serializable\n":     "does not say txn: true",
		"protocol: 2\ncommand: [x]\ntxn: true\nconsistency: acid\n":  `consistency: "acid" is not a model`,
		"protocol: 2\ncommand: [x]\ntxn: true\nconsistncy: serial\n": "consistncy",
	} {
		_, err := Load(systemFile(t, body))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
	}
}
