package exec

import "time"

// Timescale is the file's timescale (harness.Timescaler), 0 (none
// declared) if it has none.
func (s *System) Timescale() time.Duration { return s.f.Timescale }
