package quorum

import (
	"github.com/gauntlet-dev/gauntlet/env"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A late put of an older version never rolls a key back, except under bug
// put-overwrites-newer.
func TestReplicaKeepsTheNewestVersion(t *testing.T) {
	for _, bug := range []bool{false, true} {
		w, live, err := openWAL(env.OS(), filepath.Join(t.TempDir(), "quorum.log"), false, 0, func(string, ...any) {})
		require.NoError(t, err)
		r := newReplica(w, live, bug)
		newer := entry{Key: "k", Value: "new", Ver: Version{Counter: 5, Node: "n2"}}
		older := entry{Key: "k", Value: "old", Ver: Version{Counter: 4, Node: "n1"}}
		require.NoError(t, r.put(newer))
		require.NoError(t, r.put(older))
		got, ok := r.get("k")
		require.True(t, ok)
		if bug {
			assert.Equal(t, "old", got.Value, "the bug rolls the key back")
		} else {
			assert.Equal(t, "new", got.Value)
		}
		require.NoError(t, w.close())
	}
}
