package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// An hour of per-second values over 1,000 px: at most two points per
// pixel column, and a one-second spike is still drawn.
func TestPolylineDecimates(t *testing.T) {
	var pts []point
	for i := range 3600 {
		y := 100.0
		if i == 1234 {
			y = 5 // a spike (up on screen)
		}
		pts = append(pts, point{x: 70 + float64(i)*1000/3600, y: y})
	}
	out := strings.Fields(polyline(pts))
	assert.LessOrEqual(t, len(out), 2*1000)
	assert.Contains(t, out, "412.8,5.0", "the spike survives")
	assert.Equal(t, "70.0,100.0", out[0])

	// Fewer points than pixels: all kept.
	few := []point{{1, 1}, {5, 2}, {9, 3}}
	assert.Equal(t, "1.0,1.0 5.0,2.0 9.0,3.0", polyline(few))
}
