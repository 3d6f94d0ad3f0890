package mutex

import (
	"fmt"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// explain names the op that no linearization could place: in the lock that
// failed, after the longest prefix porcupine could order, the ok op that
// returned first among the rest, and the state it found.
func explain(ops []porcupine.Operation, info porcupine.LinearizationInfo) (harness.Anomaly, bool) {
	parts := Model.Partition(ops)
	partials := info.PartialLinearizationsOperations()
	if len(partials) != len(parts) {
		return harness.Anomaly{}, false
	}
	for i, part := range parts {
		var longest []porcupine.Operation
		for _, l := range partials[i] {
			if len(l) > len(longest) {
				longest = l
			}
		}
		if len(longest) == len(part) {
			continue // this lock is linearizable
		}
		return explainPart(part, longest)
	}
	return harness.Anomaly{}, false
}

type opID struct {
	client    int
	call, ret int64
}

func explainPart(part, prefix []porcupine.Operation) (harness.Anomaly, bool) {
	placed := map[opID]bool{}
	var st interface{} = Model.Init()
	for _, op := range prefix {
		placed[opID{op.ClientId, op.Call, op.Return}] = true
		_, st = Model.Step(st, op.Input, op.Output)
	}
	var stuck *porcupine.Operation
	for j := range part {
		op := &part[j]
		if placed[opID{op.ClientId, op.Call, op.Return}] || !op.Output.(output).known {
			continue
		}
		if stuck == nil || op.Return < stuck.Return {
			stuck = op
		}
	}
	if stuck == nil {
		return harness.Anomaly{}, false
	}
	what := Model.DescribeOperation(stuck.Input, stuck.Output)
	text := fmt.Sprintf("%s by process %d succeeded, but it cannot take effect: the %d acquires and releases that can be ordered before it leave the lock %s",
		what, stuck.ClientId, len(prefix), Model.DescribeState(st))
	if len(prefix) > 0 {
		last := prefix[len(prefix)-1]
		text += fmt.Sprintf(" (the last of them: %s by process %d)", Model.DescribeOperation(last.Input, last.Output), last.ClientId)
	}
	return harness.Anomaly{Checker: "linearizable", Time: stuck.Return, Explanation: text}, true
}
