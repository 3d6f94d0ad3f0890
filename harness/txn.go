package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// FTxn is a transaction: Op.Txn holds its micro-ops, applied atomically or
// not at all. The promise is an op's: ok, it committed (and its reads hold
// what they read); fail, it certainly did not; info, it may have committed.
const FTxn = "txn"

// Micro-op functions (Mop.F).
const (
	MRead   = "r"      // read Key: a register's value (Value) or a list (List)
	MWrite  = "w"      // set the register Key to Value
	MAppend = "append" // append Value to the list at Key
	// MAdd adds the signed integer Value to the integer register Key (absent
	// counts as 0). A transaction in which an add would leave a register
	// below zero is refused as a whole (fail): bank transfers never overdraw.
	MAdd = "add"
)

// Mop is one micro-op of a transaction. In an invocation a read carries
// nothing, except that a read of a list may carry an empty List to say so
// (the live workloads' do: a client serving both kinds then knows which to
// answer for an absent key); in an ok completion it carries what it read:
// Value for a register (nil: absent), List for a list (non-nil, empty when
// the key is absent).
//
// In a history file a micro-op is a JSON array, as in Jepsen's EDN:
// ["append","x","4"], ["w","x","5"], ["r","x",null], ["r","x","5"],
// ["r","x",["1","2"]].
type Mop struct {
	F     string
	Key   string
	Value *string
	List  []string
}

// IsListRead reports whether m is a read that returned a list.
func (m Mop) IsListRead() bool { return m.F == MRead && m.List != nil }

// MarshalJSON writes [f, key, value-or-list-or-null].
func (m Mop) MarshalJSON() ([]byte, error) {
	var v any
	switch {
	case m.List != nil:
		v = m.List
	case m.Value != nil:
		v = *m.Value
	}
	return json.Marshal([3]any{m.F, m.Key, v})
}

// UnmarshalJSON reads [f, key, value] where value is a string, a number
// (kept as its decimal text), null, or an array of strings or numbers.
func (m *Mop) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 3 {
		return fmt.Errorf("micro-op %s: want [f, key, value], e.g. [\"append\",\"x\",\"4\"]", b)
	}
	*m = Mop{}
	if err := json.Unmarshal(raw[0], &m.F); err != nil || m.F == "" {
		return fmt.Errorf("micro-op %s: f must be a non-empty string", b)
	}
	key, err := scalar(raw[1])
	if err != nil || key == nil {
		return fmt.Errorf("micro-op %s: key must be a string or a number", b)
	}
	m.Key = *key
	v := bytes.TrimSpace(raw[2])
	if len(v) > 0 && v[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return fmt.Errorf("micro-op %s: %v", b, err)
		}
		m.List = make([]string, len(items))
		for i, it := range items {
			s, err := scalar(it)
			if err != nil || s == nil {
				return fmt.Errorf("micro-op %s: list element %d must be a string or a number", b, i)
			}
			m.List[i] = *s
		}
		return nil
	}
	m.Value, err = scalar(v)
	if err != nil {
		return fmt.Errorf("micro-op %s: value must be a string, a number, null or a list", b)
	}
	return nil
}

// scalar decodes a JSON string or number as text; null is nil.
func scalar(b json.RawMessage) (*string, error) {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil, nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		return &s, nil
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, err
		}
		s := n.String()
		return &s, nil
	}
}

// String renders the micro-op as Jepsen does: "[append x 4]", "[r x [1 2]]",
// "[r x nil]".
func (m Mop) String() string {
	v := "nil"
	switch {
	case m.List != nil:
		v = "[" + strings.Join(m.List, " ") + "]"
	case m.Value != nil:
		v = *m.Value
	}
	return "[" + m.F + " " + m.Key + " " + v + "]"
}

// TxnString renders micro-ops as "[append x 4] [r x [1 2]]".
func TxnString(txn []Mop) string {
	parts := make([]string, len(txn))
	for i, m := range txn {
		parts[i] = m.String()
	}
	return strings.Join(parts, " ")
}
