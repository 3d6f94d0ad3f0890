package exec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func TestSetCounterDeclaration(t *testing.T) {
	s, err := New("exec:x", systemFile(t, "protocol: 2\ncommand: [x]\nset: true\ncounter: true\n"))
	require.NoError(t, err)
	assert.Equal(t, []harness.Feature{harness.FeatureSet, harness.FeatureCounter}, harness.FeaturesOf(s))

	s, err = New("exec:x", systemFile(t, "protocol: 2\ncommand: [x]\ntxn: true\ncounter: true\n"))
	require.NoError(t, err)
	assert.Equal(t, []harness.Feature{harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd, harness.FeatureCounter}, harness.FeaturesOf(s))
	assert.Contains(t, s.Lacks(harness.FeatureSet), "set: true")

	for body, want := range map[string]string{
		"protocol: 1\ncommand: [x]\nset: true\n":     "set: true needs protocol 2",
		"protocol: 1\ncommand: [x]\ncounter: true\n": "counter: true needs protocol 2",
		"protocol: 2\ncommand: [x]\nsets: true\n":    "sets",
	} {
		_, err := Load(systemFile(t, body))
		require.Error(t, err, body)
		assert.Contains(t, err.Error(), want, body)
	}
}
