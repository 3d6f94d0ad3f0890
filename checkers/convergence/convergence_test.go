package convergence

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

func check(ds ...h.Digest) h.Result {
	return New().Check(context.Background(), h.CheckInput{Digests: ds})
}

func TestWholeDigests(t *testing.T) {
	r := check(h.Digest{Node: "n1", Digest: "abc"}, h.Digest{Node: "n2", Digest: "abc"}, h.Digest{Node: "n3", Digest: "abc"})
	assert.Equal(t, h.Valid, r.Validity, r.Summary)

	r = check(h.Digest{Node: "n1", Digest: "abc"}, h.Digest{Node: "n2", Digest: "abc"}, h.Digest{Node: "n3", Digest: "xyz"})
	require.Equal(t, h.Invalid, r.Validity)
	assert.Equal(t, "the nodes' states differ after recovery: n1,n2 hold abc; n3 hold xyz", r.Anomalies[0].Explanation)

	r = check()
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Equal(t, "no digests collected: convergence was not checked", r.Summary)
}

func TestNodeErrors(t *testing.T) {
	// The others agree, one did not answer: unknown.
	r := check(h.Digest{Node: "n1", Digest: "abc"}, h.Digest{Node: "n2", Digest: "abc"}, h.Digest{Node: "n3", Error: "connection refused"})
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, "n3: connection refused")
	// The answering nodes disagree: invalid whatever the silent one holds.
	r = check(h.Digest{Node: "n1", Digest: "abc"}, h.Digest{Node: "n2", Digest: "def"}, h.Digest{Node: "n3", Error: "timeout"})
	assert.Equal(t, h.Invalid, r.Validity)
	assert.Contains(t, r.Summary, "1 nodes reported no digest")
	r = check(h.Digest{Node: "n1", Error: "timeout"}, h.Digest{Node: "n2", Error: strings.Repeat("x", 500)},
		h.Digest{Node: "n3", Error: "refused"})
	assert.Equal(t, h.Unknown, r.Validity)
	assert.Contains(t, r.Summary, "no node reported a digest")
	assert.Contains(t, r.Summary, "and 1 more")
	assert.Less(t, len(r.Summary), 300)
}

func TestPerKey(t *testing.T) {
	// Quorum mode: each node holds some keys; compare among holders only.
	n1 := h.Digest{Node: "n1", Digest: "1", Values: map[string]string{"a": "h1", "b": "h2"}}
	n2 := h.Digest{Node: "n2", Digest: "2", Values: map[string]string{"b": "h2", "c": "h3"}}
	n3 := h.Digest{Node: "n3", Digest: "3", Values: map[string]string{"a": "h1", "c": "h3"}}
	r := check(n1, n2, n3)
	assert.Equal(t, h.Valid, r.Validity, r.Summary)
	assert.Contains(t, r.Summary, "3 keys")

	n3.Values = map[string]string{"a": "h1", "c": "stale"}
	r = check(n1, n2, n3)
	require.Equal(t, h.Invalid, r.Validity)
	require.Len(t, r.Anomalies, 1)
	assert.Equal(t, "c", r.Anomalies[0].Key)
	assert.Equal(t, "replicas of c differ after recovery: n2 hold h3; n3 hold stale", r.Anomalies[0].Explanation)
}

// A divergence is seen after the recovery reads: it ranks after every
// violation the history shows, not at time 0 before them all.
func TestDivergenceIsTimedAfterTheHistory(t *testing.T) {
	hist := h.History{{Type: h.Invoke, F: h.FRead, Time: 10}, {Type: h.OK, F: h.FRead, Time: 25_000_000_000}}
	r := New().Check(context.Background(), h.CheckInput{History: hist,
		Digests: []h.Digest{{Node: "n1", Digest: "a"}, {Node: "n2", Digest: "b"}}})
	require.Equal(t, h.Invalid, r.Validity)
	assert.EqualValues(t, 25_000_000_000, r.Anomalies[0].Time)
	lin := h.Result{Checker: "linearizable", Validity: h.Invalid, Anomalies: []h.Anomaly{{Time: 24_000_000_000}}}
	assert.EqualValues(t, 24_000_000_000, *h.FirstViolation([]h.Result{r, lin}))
}

// Converged is the checker's verdict, which the runner waits for: per-key
// values compared where nodes hold them, a node without a digest unknown.
func TestConvergedIsTheVerdict(t *testing.T) {
	c := New()
	assert.True(t, c.Converged([]h.Digest{{Node: "n1", Digest: "a"}, {Node: "n2", Digest: "a"}}))
	assert.False(t, c.Converged([]h.Digest{{Node: "n1", Digest: "a"}, {Node: "n2", Digest: "b"}}))
	assert.False(t, c.Converged([]h.Digest{{Node: "n1", Digest: "a"}, {Node: "n2", Error: "timeout"}}))
	assert.True(t, c.Converged([]h.Digest{{Node: "n1", Digest: "x", Values: map[string]string{"k": "1"}},
		{Node: "n2", Digest: "y", Values: map[string]string{"k": "1", "j": "2"}}}), "per key, where held")
	assert.False(t, c.Converged(nil))
}
