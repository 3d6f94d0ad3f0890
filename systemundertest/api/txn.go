package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Micro-op functions of a transaction (Mop.F).
const (
	MRead   = "r"      // read a register (Value) or, when List is non-nil in the request, a list
	MWrite  = "w"      // set a register
	MAppend = "append" // append Value to a list
	MAdd    = "add"    // add the signed integer Value to an integer register (absent = 0)
)

// Mop is one micro-op of a transaction, on the wire a JSON array as in
// Gauntlet's history files: ["append","x","4"], ["w","x","5"],
// ["add","x","-3"], ["r","x",null] (a register read) or ["r","x",[]] (a
// list read). In an answer a read carries what it read: a value or null
// (absent) for a register, the list for a list ([] when absent).
type Mop struct {
	F     string
	Key   string
	Value *string
	List  []string
}

// IsRead reports whether m is a read.
func (m Mop) IsRead() bool { return m.F == MRead }

// ReadsList reports whether m is a read of a list.
func (m Mop) ReadsList() bool { return m.F == MRead && m.List != nil }

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

// UnmarshalJSON reads [f, key, value]; values may be strings or numbers
// (kept as their decimal text), lists of them, or null.
func (m *Mop) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 3 {
		return fmt.Errorf("micro-op %s: want [f, key, value]", b)
	}
	*m = Mop{}
	if err := json.Unmarshal(raw[0], &m.F); err != nil {
		return fmt.Errorf("micro-op %s: f must be a string", b)
	}
	key, err := text(raw[1])
	if err != nil || key == nil {
		return fmt.Errorf("micro-op %s: key must be a string", b)
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
			s, err := text(it)
			if err != nil || s == nil {
				return fmt.Errorf("micro-op %s: list element %d must be a string", b, i)
			}
			m.List[i] = *s
		}
		return nil
	}
	if m.Value, err = text(v); err != nil {
		return fmt.Errorf("micro-op %s: value must be a string, null or a list", b)
	}
	return nil
}

// text decodes a JSON string or number as text; null is nil.
func text(b json.RawMessage) (*string, error) {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		err := json.Unmarshal(b, &s)
		return &s, err
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	s := n.String()
	return &s, nil
}

// ReadOnly reports whether every micro-op of txn is a read.
func ReadOnly(txn []Mop) bool {
	for _, m := range txn {
		if !m.IsRead() {
			return false
		}
	}
	return true
}

// CheckTxn says what is wrong with a transaction a client sent, nil if
// nothing: a server refuses it whole (400) before doing anything.
func CheckTxn(txn []Mop) error {
	if len(txn) == 0 {
		return errors.New("empty transaction")
	}
	for i, m := range txn {
		switch m.F {
		case MRead:
			if m.Value != nil || len(m.List) > 0 {
				return fmt.Errorf("micro-op %d (%s %s): a read carries null or [], not a value", i, m.F, m.Key)
			}
		case MWrite, MAppend:
			if m.Value == nil {
				return fmt.Errorf("micro-op %d (%s %s): needs a value", i, m.F, m.Key)
			}
		case MAdd:
			if m.Value == nil {
				return fmt.Errorf("micro-op %d (add %s): needs an integer", i, m.Key)
			}
			if _, err := strconv.ParseInt(*m.Value, 10, 64); err != nil {
				return fmt.Errorf("micro-op %d (add %s %s): not an integer", i, m.Key, *m.Value)
			}
		default:
			return fmt.Errorf("micro-op %d: unknown function %q (want r, w, append or add)", i, m.F)
		}
	}
	return nil
}

// ErrRefused marks a transaction the store decided not to apply as a whole
// (an add that would leave a register below zero); the server answers 409.
var ErrRefused = errors.New("refused")

// RefusedError is a transaction refused as a whole: it is ErrRefused and
// ErrNotApplied.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

func (e *RefusedError) Is(target error) bool { return target == ErrRefused || target == ErrNotApplied }

// Refused is a RefusedError with the reason given.
func Refused(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// TxnStore is a Store that applies multi-key transactions atomically: Txn
// returns the micro-ops with their reads filled in. A mode without it
// answers POST /txn with 501.
type TxnStore interface {
	Txn(ctx context.Context, txn []Mop) ([]Mop, error)
}

// TxnBody is the request and the answer of POST /txn.
type TxnBody struct {
	Txn []Mop `json:"txn"`
}

// NoTxn is why a store without TxnStore refuses POST /txn.
const NoTxn = "this mode has no atomic multi-key transactions"

// txn serves POST /txn: 200 {"txn": [...]} with the reads filled in; 409
// refused as a whole; 400 malformed; 501 no transactions; 503/504 as for
// writes (a read-only transaction that fails changed nothing).
func (s *server) txn(w http.ResponseWriter, r *http.Request) {
	ts, ok := s.store.(TxnStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: NoTxn})
		return
	}
	var in TxnBody
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if err := CheckTxn(in.Txn); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	out, err := ts.Txn(ctx, in.Txn)
	var refused *RefusedError
	if errors.As(err, &refused) {
		writeJSON(w, http.StatusConflict, errorBody{Error: refused.Reason})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TxnBody{Txn: out})
}
