package docker

import (
	"fmt"
	"log/slog"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// discard is the logger when neither the run nor the options give one.
var discard harness.Logger = slog.New(slog.DiscardHandler)

// tcLogger sends testcontainers' chatter to the harness log at debug level.
type tcLogger struct{ l harness.Logger }

func (t tcLogger) Printf(format string, v ...any) {
	t.l.Debug("testcontainers: " + fmt.Sprintf(format, v...))
}
