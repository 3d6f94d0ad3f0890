// Package harness holds Gauntlet's vocabulary — Op, History, Client, Workload,
// Nemesis, Cluster, System, Checker, Test — and the runner that composes them.
// Everything else in the repository speaks these types; keep them small.
package harness

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Type says what is known about an operation.
type Type string

const (
	Invoke Type = "invoke" // the operation was started
	OK     Type = "ok"     // it certainly took effect
	Fail   Type = "fail"   // it certainly did not take effect
	Info   Type = "info"   // unknown: it may or may not have taken effect, now or later
)

// Function names used by the shipped workloads. Other workloads may add more.
const (
	FRead  = "read"
	FWrite = "write"
	FCAS   = "cas"
	FAdd   = "add" // counter: add the signed Value; set: add the element Value
	// A lock: Key names it; an ok acquire may carry the fencing token the
	// system handed out in Value.
	FAcquire = "acquire"
	FRelease = "release"
)

// Kinds of data an add or a read works on where F alone does not say (Op.Kind):
// a client serving registers, sets and counters sends each to its own place.
const (
	KindSet     = "set"     // add an element; a read returns the JSON array of elements
	KindCounter = "counter" // add a signed integer; a read returns the integer
)

// Process identifies who issued an op. Client processes are numbered from 0;
// the nemesis is a process of its own.
type Process int

// NemesisProcess is the process of fault operations.
const NemesisProcess Process = -1

func (p Process) String() string {
	if p == NemesisProcess {
		return "nemesis"
	}
	return strconv.Itoa(int(p))
}

// MarshalJSON writes the nemesis as "nemesis" and clients as numbers, as Jepsen does.
func (p Process) MarshalJSON() ([]byte, error) {
	if p == NemesisProcess {
		return []byte(`"nemesis"`), nil
	}
	return []byte(strconv.Itoa(int(p))), nil
}

// UnmarshalJSON accepts a number or "nemesis".
func (p *Process) UnmarshalJSON(b []byte) error {
	if string(b) == `"nemesis"` {
		*p = NemesisProcess
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("process must be a number or \"nemesis\", got %s", b)
	}
	*p = Process(n)
	return nil
}

// Op is one line of a history.
//
// Values are strings; a nil Value on a completed read means the key was absent.
// For cas, From is the expected value and Value the new one; a failed cas may
// carry the value it found in Error. For nemesis ops F is "start-<package>" or
// "stop-<package>" (as Jepsen writes them), Fault says the same typed (read
// it with FaultMark), Value is a human description of the fault and Node the
// nodes it touched (comma separated).
type Op struct {
	Index   int     `json:"index"`
	Process Process `json:"process"`
	Type    Type    `json:"type"`
	F       string  `json:"f"`
	Key     string  `json:"key,omitempty"`
	Value   *string `json:"value,omitempty"`
	From    *string `json:"from,omitempty"`
	// Kind is KindSet or KindCounter for the set and counter workloads'
	// adds and reads, "" for registers.
	Kind string `json:"kind,omitempty"`
	// Txn holds a transaction's micro-ops (F "txn"); a completion carries
	// them again with what its reads returned.
	Txn   []Mop      `json:"txn,omitempty"`
	Time  int64      `json:"time"` // ns since the test started (monotonic)
	Node  string     `json:"node,omitempty"`
	Error string     `json:"error,omitempty"`
	Fault *FaultMark `json:"fault,omitempty"` // a nemesis op's start or stop
}

// Str returns a pointer to s, for Op values.
func Str(s string) *string { return &s }

// IsNemesis reports whether the op is a fault operation.
func (o Op) IsNemesis() bool { return o.Process == NemesisProcess }

// Complete returns a completion of the invocation o with the given type.
func (o Op) Complete(t Type) Op {
	c := o
	c.Type = t
	// The completion gets micro-ops of its own: filling in its reads must
	// not change the recorded invocation.
	c.Txn = slices.Clone(o.Txn)
	return c
}

// String renders the op briefly for messages: "3 ok write k1=7".
func (o Op) String() string {
	s := fmt.Sprintf("%s %s %s", o.Process, o.Type, o.F)
	if o.Key != "" {
		s += " " + o.Key
	}
	if len(o.Txn) > 0 {
		s += " " + TxnString(o.Txn)
	}
	if o.From != nil {
		s += " " + *o.From + "->"
		if o.Value != nil {
			s += *o.Value
		}
	} else if o.Value != nil {
		s += "=" + *o.Value
	} else if o.F == FRead && o.Type == OK {
		s += "=nil"
	}
	if o.Error != "" {
		s += " (" + o.Error + ")"
	}
	return s
}

// MarshalLine encodes the op as one JSON line (no trailing newline).
func (o Op) MarshalLine() ([]byte, error) { return json.Marshal(o) }

// Read completes the read o as ok with the value read (nil: absent).
func (o Op) Read(v *string) Op {
	c := o.Complete(OK)
	c.Value = v
	return c
}

// Failed completes o as t (Fail or Info) with why it did not succeed: err
// and, if not empty, what the system said.
func (o Op) Failed(t Type, err error, said string) Op {
	c := o.Complete(t)
	var parts []string
	if err != nil {
		parts = append(parts, err.Error())
	}
	if said != "" {
		parts = append(parts, said)
	}
	c.Error = strings.Join(parts, ": ")
	if c.Error == "" {
		c.Error = string(t)
	}
	return c
}
