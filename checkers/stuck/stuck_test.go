package stuck

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A counter that only goes up by one: "inc n" must find n-1.
var inc = porcupine.Model{
	Init: func() interface{} { return 0 },
	Step: func(st, in, out interface{}) (bool, interface{}) {
		if in.(int) == st.(int)+1 {
			return true, in.(int)
		}
		return false, st
	},
}

func TestSearchNamesTheStuckOp(t *testing.T) {
	ops := []porcupine.Operation{
		{ClientId: 0, Input: 1, Call: 0, Return: 10},
		{ClientId: 1, Input: 2, Call: 20, Return: 30},
		{ClientId: 2, Input: 4, Call: 40, Return: 50}, // 3 never happened
		{ClientId: 3, Input: 5, Call: 60, Return: 70},
	}
	s, ok := Search(inc, ops, time.Second, func(porcupine.Operation) bool { return true })
	require.True(t, ok)
	assert.Equal(t, 4, s.Op.Input)
	assert.Equal(t, 2, s.State, "the state after the orderable prefix")
	assert.Len(t, s.Prefix, 2)

	_, ok = Search(inc, ops[:2], time.Second, func(porcupine.Operation) bool { return true })
	assert.False(t, ok, "a linearizable history has no stuck op")
	_, ok = Search(inc, ops, 0, func(porcupine.Operation) bool { return true })
	assert.False(t, ok, "no time left: no search")
}
