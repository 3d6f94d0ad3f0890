package docker

import (
	"fmt"

	"github.com/gauntlet-dev/gauntlet/harness"
)

type nopLogger struct{}

func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
func (nopLogger) Debug(string, ...any) {}

// tcLogger sends testcontainers' chatter to the harness log at debug level.
type tcLogger struct{ l harness.Logger }

func (t tcLogger) Printf(format string, v ...any) {
	t.l.Debug("testcontainers: " + fmt.Sprintf(format, v...))
}
