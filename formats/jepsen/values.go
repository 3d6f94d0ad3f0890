package jepsen

import (
	"encoding/json"
	"fmt"
	"sort"
)

// encodeSet renders a set read (#{…} or a vector) as a sorted JSON array of
// strings, the form Gauntlet's set checker reads.
func encodeSet(v any) string {
	var elems []string
	switch x := v.(type) {
	case map[any]bool:
		for e := range x {
			elems = append(elems, renderPlain(deref(e)))
		}
	case []any:
		for _, e := range x {
			elems = append(elems, renderPlain(e))
		}
	default:
		elems = append(elems, renderPlain(v))
	}
	sort.Strings(elems)
	b, _ := json.Marshal(elems)
	return string(b)
}

// MicroOp is one step of a multi-register transaction: F is "r" or "w".
type MicroOp struct {
	F     string  `json:"f"`
	Key   string  `json:"k"`
	Value *string `json:"v"`
}

// encodeTxn renders [[:r :x nil] [:w :y 2]] as JSON micro-ops.
func encodeTxn(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	vec, ok := v.([]any)
	if !ok {
		return "", fmt.Errorf(":txn wants :value [[:r k v] [:w k v] …], got %s", render(v))
	}
	ops := make([]MicroOp, 0, len(vec))
	for _, m := range vec {
		mv, ok := m.([]any)
		if !ok || len(mv) != 3 {
			return "", fmt.Errorf(":txn micro-op wants [f k v], got %s", render(m))
		}
		f := renderPlain(mv[0])
		switch f {
		case ":r", ":read":
			f = "r"
		case ":w", ":write":
			f = "w"
		default:
			return "", fmt.Errorf(":txn micro-op %s: f must be :r or :w", render(m))
		}
		ops = append(ops, MicroOp{F: f, Key: renderPlain(mv[1]), Value: scalar(mv[2])})
	}
	b, _ := json.Marshal(ops)
	return string(b), nil
}

// DecodeTxn parses the Value of a multi-register txn op.
func DecodeTxn(s string) ([]MicroOp, error) {
	var ops []MicroOp
	err := json.Unmarshal([]byte(s), &ops)
	return ops, err
}

// deref undoes the decoder's pointer wrapping of unhashable set elements.
func deref(e any) any {
	if p, ok := e.(*any); ok {
		return *p
	}
	return e
}
