package harness

import (
	"context"
	"encoding/json"
	"math/rand"
)

// Generator produces invocations. The runner serializes calls to Next, so
// generators need no locking; all their randomness comes from the rng given
// to Workload.Generator.
type Generator interface {
	// Next returns the next invocation for process p (F, Key, Value, From;
	// the runner fills Index, Type, Time, Process, Node).
	Next(p Process) Op
	// Keys lists every key the generator has used, for the recovery reads.
	Keys() []string
}

// Observer is a generator that sees how its ops ended: the runner calls
// Observe with every completion (ok, fail or info) of a main-phase client
// op, under the same lock as Next, so a generator can let what it issues
// next depend on what was acknowledged (the bank writes its initial
// balances until one such transaction is ok, then transfers).
type Observer interface {
	Observe(done Op)
}

// FinalReader is a generator whose recovery reads are not plain reads of a
// key: FinalRead returns the invocation that reads key after the heal (a
// transaction, for transactional workloads). Without it the recovery phase
// reads each key with F "read".
type FinalReader interface {
	FinalRead(key string) Op
}

// EveryNodeReader is a generator whose final reads are made once on every
// node (each starting at its node, moving on only while it is down), not
// once on whichever answers first: a set's final read on every replica
// after the heal shows an element that one of them lost.
type EveryNodeReader interface {
	FinalReadsEveryNode() bool
}

// Workload is a generator of operations plus the checkers that judge them.
type Workload interface {
	Name() string
	Generator(rng *rand.Rand) Generator
	Checkers() []Checker
}

// Validity is a checker's verdict. Invalid beats unknown beats valid.
type Validity string

const (
	Valid   Validity = "valid"
	Invalid Validity = "invalid"
	Unknown Validity = "unknown"
)

// Merge combines verdicts: invalid beats unknown beats valid.
func Merge(vs ...Validity) Validity {
	out := Valid
	for _, v := range vs {
		switch {
		case v == Invalid:
			return Invalid
		case v != Valid:
			out = Unknown
		}
	}
	return out
}

// ExitCode maps a verdict to the command's exit status.
func (v Validity) ExitCode() int {
	switch v {
	case Valid:
		return ExitValid
	case Invalid:
		return ExitInvalid
	default:
		return ExitUnknown
	}
}

// Exit codes of the gauntlet command.
const (
	ExitValid   = 0
	ExitInvalid = 1
	ExitUnknown = 2
	ExitRunFail = 3  // the run itself could not be carried out
	ExitUsage   = 64 // bad arguments or malformed input
)

// CheckInput is everything a checker may look at.
type CheckInput struct {
	History History
	// Digests are the convergence digests collected after recovery (may be empty).
	Digests []Digest
	// Dir is the run directory, where checkers may write artifacts
	// (e.g. linearizability.html); "" means write nothing.
	Dir string
	// Prefix: History is the main phase so far (the online check of
	// --stop-on-violation). A checker must then say invalid only of what
	// no later op can undo: an element a set read missed may still be
	// read later by a store that promises only eventual visibility.
	Prefix bool
}

// Checker judges a history.
type Checker interface {
	Name() string
	Check(ctx context.Context, in CheckInput) Result
}

// Anomaly is one violation found by a checker, explained for a human.
type Anomaly struct {
	Checker     string `json:"checker"`
	Key         string `json:"key,omitempty"`
	Explanation string `json:"explanation"` // one or two sentences, plain words
	Time        int64  `json:"time"`        // ns: when the first violating op completed
	Ops         []Op   `json:"ops,omitempty"`
	// Window is the smallest failing window: the ops around the point where
	// no linearization extends (for linearizability).
	Window []Op `json:"window,omitempty"`
}

// Result is one checker's verdict.
type Result struct {
	Checker   string          `json:"checker"`
	Validity  Validity        `json:"validity"`
	Summary   string          `json:"summary"`
	Anomalies []Anomaly       `json:"anomalies,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"` // checker-specific data for reports
	Artifacts []string        `json:"artifacts,omitempty"`
	// View names the drawing a report makes of the anomalies from Details
	// (e.g. linearizable.View, porcupine's view of each failing key); ""
	// when the anomalies' ops say all there is. The report chooses by this,
	// not by the checker's name, so checkers keep names of their own.
	View string `json:"view,omitempty"`
}
