package bykey

import (
	"testing"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
)

func TestPartitionGroupsInKeyOrder(t *testing.T) {
	ops := []porcupine.Operation{{Input: "y", Call: 1}, {Input: "x", Call: 2}, {Input: "y", Call: 3}}
	got := Partition(func(op porcupine.Operation) string { return op.Input.(string) })(ops)
	assert.Equal(t, [][]porcupine.Operation{{ops[1]}, {ops[0], ops[2]}}, got)
	assert.Empty(t, Partition(func(porcupine.Operation) string { return "" })(nil))
}
