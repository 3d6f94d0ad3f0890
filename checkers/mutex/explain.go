package mutex

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/stuck"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// explain names the op that no linearization could place and the state the
// ops orderable before it leave the lock in.
func explain(ops []porcupine.Operation, left time.Duration) (harness.Anomaly, bool) {
	s, ok := stuck.Search(Model, ops, left, func(op porcupine.Operation) bool { return op.Output.(output).known })
	if !ok {
		return harness.Anomaly{}, false
	}
	text := fmt.Sprintf("%s by process %d succeeded, but it cannot take effect: the %d acquires and releases that can be ordered before it leave the lock %s",
		Model.DescribeOperation(s.Op.Input, s.Op.Output), s.Op.ClientId, len(s.Prefix), Model.DescribeState(s.State))
	if n := len(s.Prefix); n > 0 {
		last := s.Prefix[n-1]
		text += fmt.Sprintf(" (the last of them: %s by process %d)", Model.DescribeOperation(last.Input, last.Output), last.ClientId)
	}
	return harness.Anomaly{Checker: "linearizable", Time: s.Op.Return, Explanation: text}, true
}
