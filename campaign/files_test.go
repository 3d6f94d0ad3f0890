package campaign

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every campaign file shipped in campaigns/ loads, validates and expands
// to runs: a typo in one is found here, not at night.
func TestShippedCampaignFilesLoad(t *testing.T) {
	files, err := filepath.Glob("../campaigns/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		if filepath.Base(f) == "reproduce.yaml" {
			continue // a reproduction registry, not a campaign (LoadRegistry)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := LoadSpec(f)
			require.NoError(t, err)
			require.NoError(t, s.Validate())
			assert.NotEmpty(t, s.Runs())
		})
	}
}
