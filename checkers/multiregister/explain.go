package multiregister

import (
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/stuck"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// explain names the txn that no linearization could place and the registers
// the txns orderable before it leave.
func explain(m porcupine.Model, ops []porcupine.Operation, left time.Duration) (harness.Anomaly, bool) {
	s, ok := stuck.Search(m, ops, left, func(op porcupine.Operation) bool { return op.Output.(output).known })
	if !ok {
		return harness.Anomaly{}, false
	}
	in := s.Op.Input.(input)
	where := ""
	if in.key != "" {
		where = " on key " + in.key
	}
	text := fmt.Sprintf("txn %s by process %d%s succeeded, but no order explains it: the %d transactions that can be ordered before it leave the registers %s",
		m.DescribeOperation(s.Op.Input, s.Op.Output), s.Op.ClientId, where, len(s.Prefix), m.DescribeState(s.State))
	return harness.Anomaly{Checker: Name, Time: s.Op.Return, Explanation: text}, true
}
