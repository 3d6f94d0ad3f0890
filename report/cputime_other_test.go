//go:build !unix

package report

import "time"

// cpuTime is not measured here; the logs then show 0.
func cpuTime() time.Duration { return 0 }
