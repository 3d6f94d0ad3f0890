// Package isolation judges histories of transactions (harness.FTxn) as Elle
// does: it infers each key's version order, builds the write-write,
// write-read and read-write dependencies between transactions (plus process
// and real-time order), finds cycles through strongly connected components
// and classifies them as Adya's anomalies, finds the anomalies that need no
// cycle (aborted and intermediate reads, internal inconsistency, lost
// updates, …), and tells which consistency models the history rules out.
//
// Two data models: list-append (appends of unique values to lists, reads
// of whole lists) and rw-register (writes of unique values, reads). Failed
// transactions never committed; info transactions may have (their writes
// may be read; their reads are never assumed).
//
// The checker is built for a million transactions: keys and values become
// integers as ops are read, transactions and micro-ops live in flat arrays,
// read lists are not kept (every read is a prefix of the longest), and
// real-time order is a chain of barrier nodes rather than an edge per pair.
// A Stream takes ops one at a time, so a history need not be held whole.
package isolation

import (
	"context"
	"fmt"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Model is the data model of the transactions' micro-ops.
type Model string

const (
	ListAppend Model = "list-append" // append and list reads
	RWRegister Model = "rw-register" // register writes (unique values) and reads
)

// ParseModel validates a data model's name.
func ParseModel(s string) (Model, error) {
	switch Model(s) {
	case ListAppend, RWRegister:
		return Model(s), nil
	}
	return "", fmt.Errorf("unknown model %q: want %s or %s", s, ListAppend, RWRegister)
}

// Consistency models, weakest first.
const (
	ReadUncommitted           = "read-uncommitted"
	ReadCommitted             = "read-committed"
	SnapshotIsolation         = "snapshot-isolation"
	Serializable              = "serializable"
	StrongSessionSerializable = "strong-session-serializable"
	StrictSerializable        = "strict-serializable"
)

// Options shape a checker.
type Options struct {
	Model Model
	// Consistency is the model the system promises; the verdict is invalid
	// when the history rules it out. "" is strict-serializable (Elle's
	// default).
	Consistency string
	Timeout     time.Duration // 0: no bound beyond the caller's context
}

// Checker is the isolation checker.
type Checker struct{ o Options }

// New returns a checker. An unknown model or consistency model makes every
// verdict unknown, saying why; validate flags with ParseModel and
// ParseConsistency.
func New(o Options) Checker {
	if o.Model == "" {
		o.Model = ListAppend
	}
	return Checker{o: o}
}

func (Checker) Name() string { return "isolation" }

// Check judges the transactions of a history.
func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	s := c.Stream()
	ctx, cancel := s.bound(ctx)
	defer cancel()
	s.source = in.History
	for i := range in.History {
		if s.add(in.History[i], int32(i)) != nil {
			break
		}
		if i&0xffff == 0xffff && ctx.Err() != nil {
			break // Result says the check was cut short
		}
	}
	return s.Result(ctx)
}

// bound applies the checker's timeout, counted from the stream's start.
func (s *Stream) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.o.Timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, s.start.Add(s.o.Timeout))
}

// Stream is a check fed one op at a time, in history order: Add every op,
// then Result.
type Stream struct {
	o      Options
	start  time.Time
	in     *interner
	txns   []txn
	mops   []mop
	writes *kvTable
	keys   []keyState        // list-append
	aside  map[int32][]int64 // reads no prefix of the longest, by micro-op
	open   map[harness.Process]*openInv
	lastOK map[harness.Process]int32

	procEdges      [][2]int32
	barrierMembers []int32 // ok transactions in completion order
	barrierEnd     []int32 // barrier b holds barrierMembers[barrierEnd[b-1]:barrierEnd[b]]

	dupWrites  []dupWrite
	asideElems int
	found      []finding
	counts     map[string]int
	count      [3]int // transactions by type
	ops        int    // transaction ops read
	nonTxn     int
	seq        int32 // ops read so far, in order: real time
	minLevel   int   // the weakest model ruled out so far
	err        error
	source     harness.History // when set, anomalies show its ops

	raw        rawOp   // the op being read
	arena      []int64 // its lists' elements
	scrAppends []scrAppend
	scrKeys    []scrKey
}

// Stream starts a check fed op by op.
func (c Checker) Stream() *Stream {
	return &Stream{o: c.o, start: time.Now(), in: newInterner(), writes: newKVTable(1 << 12),
		aside: map[int32][]int64{}, open: map[harness.Process]*openInv{}, lastOK: map[harness.Process]int32{},
		counts: map[string]int{}, minLevel: lvNone}
}

// finding is one anomaly (a cycle, or one found without the graph).
type finding struct {
	class      string
	txns       []int32 // the transactions involved, the one that shows it first
	mop, mop2  int32   // micro-ops involved
	key        int32
	n          int32 // a length read
	val, val2  int64
	expected   []int64
	cycle      *cycle
	ruledOutAt int // the weakest model it rules out
}

// maxKept bounds the anomalies of one class explained in full.
const maxKept = 20

func (s *Stream) note(f finding) {
	s.counts[f.class]++
	f.ruledOutAt = anomalyLevel[f.class]
	if f.cycle != nil {
		// A cycle inferred with read-committed orders rules out less.
		f.ruledOutAt = f.cycle.level
	}
	s.minLevel = min(s.minLevel, f.ruledOutAt)
	kept := 0
	for i := range s.found {
		if s.found[i].class == f.class {
			kept++
		}
	}
	if kept < maxKept {
		s.found = append(s.found, f)
	}
}

func (s *Stream) noteCycle(cy *cycle) {
	s.note(finding{class: cy.class, txns: cy.txns, cycle: cy, key: -1})
}
