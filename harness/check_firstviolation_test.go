package harness

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An anomaly of an op that never completed carries no time of its own
// (MaxInt64): the run's first violation is the earliest real one, and
// none at all when no anomaly has a time.
func TestFirstViolationSkipsTimelessAnomalies(t *testing.T) {
	rs := []Result{{Validity: Invalid, Anomalies: []Anomaly{{Time: math.MaxInt64}, {Time: 3e9}}}}
	fv := FirstViolation(rs)
	require.NotNil(t, fv)
	assert.Equal(t, int64(3e9), *fv)
	assert.Nil(t, FirstViolation([]Result{{Validity: Invalid, Anomalies: []Anomaly{{Time: math.MaxInt64}}}}))
}
