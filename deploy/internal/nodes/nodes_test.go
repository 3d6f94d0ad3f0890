package nodes

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIDs(t *testing.T) {
	type node struct{ id string }
	assert.Equal(t, []string{"n1", "n2"}, IDs([]*node{{"n1"}, {"n2"}}, func(n *node) string { return n.id }))
	assert.Empty(t, IDs(nil, func(n *node) string { return n.id }))
}

func TestSanitize(t *testing.T) {
	assert.Equal(t, "run-1_a.b-c--", Sanitize("run-1_a.b/c *"))
	assert.Equal(t, "TestX-sub", Sanitize("TestX/sub"))
	assert.Equal(t, "n-", Sanitize("né"), "one dash per rune, not per byte")
}
