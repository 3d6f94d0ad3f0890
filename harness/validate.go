package harness

import "fmt"

// HistoryValidator is a Checker that can refuse, before judging, a history
// it was not made for (transactions given to a register checker): `gauntlet
// check` then exits 64 naming the op, rather than printing a verdict about
// ops the checker never understood.
type HistoryValidator interface {
	ValidateHistory(h History) *OpError
}

// OpError is an op a checker cannot judge: Pos is its place in the history.
type OpError struct {
	Pos int
	Op  Op
	Err error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("op %d (%s): %v", e.Op.Index, e.Op, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }
