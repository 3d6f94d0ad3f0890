package nemesis

import (
	"math/rand"
	"time"
)

// minUnit is the least unit of a package's durations. Gauntlet's fault
// timings were calibrated on elections of a second or less (kvnode's
// 500 ms, etcd's default 1 s); a system that declares a shorter timescale
// keeps them, one that declares a longer one stretches them.
const minUnit = time.Second

// scaled is the unit a package's durations are multiples of: the system's
// timescale (harness.Timescaled), at least minUnit. Its zero value is
// minUnit, what a package used by hand without SetTimescale gets.
type scaled struct{ timescale time.Duration }

// SetTimescale implements harness.Timescaled.
func (s *scaled) SetTimescale(d time.Duration) { s.timescale = d }

// unit is the timescale, at least minUnit.
func (s *scaled) unit() time.Duration { return max(s.timescale, minUnit) }

// span draws a duration in [lo, hi) units.
func (s *scaled) span(rng *rand.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + rng.Float64()*(hi-lo)) * float64(s.unit())).Round(time.Millisecond)
}

// times is n units.
func (s *scaled) times(n float64) time.Duration {
	return time.Duration(n * float64(s.unit()))
}
