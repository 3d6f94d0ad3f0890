// Package stuck explains porcupine's Illegal verdict by the op no
// linearization could place: in the first partition that failed, after the
// longest prefix porcupine could order, the op with a known outcome that
// returned first among the rest, and the state that prefix leaves.
package stuck

import (
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/budget"
)

// Stuck is the op that cannot take effect and what comes before it.
type Stuck struct {
	Op     porcupine.Operation
	Prefix []porcupine.Operation // the longest orderable prefix, in order
	State  interface{}           // the model's state after Prefix
}

type opID struct {
	client    int
	call, ret int64
}

// Search checks ops again, recording partial linearizations (meant for a
// history already found illegal, within what is left of its timeout), and
// finds the stuck op.
func Search(m porcupine.Model, ops []porcupine.Operation, left time.Duration, known func(porcupine.Operation) bool) (Stuck, bool) {
	if left <= 0 {
		return Stuck{}, false
	}
	// The verbose search keeps every partial linearization: bound it like
	// the verdict's search. A search cut short by the budget fails every
	// step and so looks illegal; its "stuck" op would be made up.
	w := budget.Start(0)
	defer w.Stop()
	gm, aborted := w.Guard(m)
	r, info := porcupine.CheckOperationsVerbose(gm, ops, left)
	if r != porcupine.Illegal || aborted.Load() {
		return Stuck{}, false
	}
	return Find(m, ops, info, known)
}

// Find locates the stuck op; known says whether an op's outcome is known
// (an op whose outcome is unknown may simply not have happened). ok is
// false when the information does not show one.
func Find(m porcupine.Model, ops []porcupine.Operation, info porcupine.LinearizationInfo, known func(porcupine.Operation) bool) (Stuck, bool) {
	parts := [][]porcupine.Operation{ops}
	if m.Partition != nil {
		parts = m.Partition(ops)
	}
	partials := info.PartialLinearizationsOperations()
	if len(partials) != len(parts) {
		return Stuck{}, false
	}
	for i, part := range parts {
		var longest []porcupine.Operation
		for _, l := range partials[i] {
			if len(l) > len(longest) {
				longest = l
			}
		}
		if len(longest) < len(part) {
			return inPart(m, part, longest, known)
		}
	}
	return Stuck{}, false
}

func inPart(m porcupine.Model, part, prefix []porcupine.Operation, known func(porcupine.Operation) bool) (Stuck, bool) {
	placed := map[opID]bool{}
	st := m.Init()
	for _, op := range prefix {
		placed[opID{op.ClientId, op.Call, op.Return}] = true
		_, st = m.Step(st, op.Input, op.Output)
	}
	var s *porcupine.Operation
	for j := range part {
		op := &part[j]
		if placed[opID{op.ClientId, op.Call, op.Return}] || !known(*op) {
			continue
		}
		if s == nil || op.Return < s.Return {
			s = op
		}
	}
	if s == nil {
		return Stuck{}, false
	}
	return Stuck{Op: *s, Prefix: prefix, State: st}, true
}
