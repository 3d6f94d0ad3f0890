package simdeploy

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPickKindAimsAtRareKindsToo(t *testing.T) {
	counts := map[string]int{"heartbeat": 10000, "append": 5000, "vote-granted": 3}
	rng := rand.New(rand.NewSource(1))
	picked := map[string]int{}
	for range 3000 {
		picked[pickKind(counts, rng)]++
	}
	// Uniform half: a third each; inverse half: nearly all vote-granted.
	assert.Greater(t, picked["vote-granted"], 1500, "a rare kind is drawn about two thirds of the time")
	assert.Greater(t, picked["heartbeat"], 300, "the steady kinds still get their share")
	assert.Greater(t, picked["append"], 300)
	assert.Equal(t, "", pickKind(nil, rng))
	a, b := rand.New(rand.NewSource(9)), rand.New(rand.NewSource(9))
	for range 50 {
		assert.Equal(t, pickKind(counts, a), pickKind(counts, b), "the draw depends on the seed only")
	}
}
