package jepsen

import (
	"fmt"
	"strings"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Elle's transactions: {:f :txn, :value [[:append 3 2] [:r 3 [1 2]]]} for
// list-append, [[:w 3 2] [:r 3 2]] for rw-register. Micro-ops become
// Op.Txn. In list-append an ok read of nil is the empty list, as Elle reads
// it; in an invocation, or an info or failed completion, a read carries
// nothing.

// setTxn reads an op's :value as a transaction of the model.
func setTxn(op *harness.Op, v any, model Model) error {
	if op.F != harness.FTxn {
		return fmt.Errorf(":f :%s is not an operation of the %s model (txn)", op.F, model)
	}
	if v == nil {
		return nil // an info or fail completion may carry no value
	}
	vec, ok := v.([]any)
	if !ok {
		return fmt.Errorf(":txn wants :value [[:append k v] [:r k [v …]] …], got %s", render(v))
	}
	imodel := isolation.Model(model)
	op.Txn = make([]harness.Mop, 0, len(vec))
	for _, x := range vec {
		mv, ok := x.([]any)
		if !ok || len(mv) != 3 {
			return fmt.Errorf("micro-op %s: want [f k v], e.g. [:append 3 2] or [:r 3 [1 2]]", render(x))
		}
		m := harness.Mop{F: strings.TrimPrefix(renderPlain(mv[0]), ":"), Key: renderPlain(mv[1])}
		switch m.F {
		case "read":
			m.F = harness.MRead
		case "write":
			m.F = harness.MWrite
		}
		read := m.F == harness.MRead
		switch val := mv[2].(type) {
		case nil:
			if read && model == ListAppend && op.Type == harness.OK {
				m.List = []string{}
			}
		case []any:
			if !read || model != ListAppend {
				if read {
					return fmt.Errorf("micro-op %s: a read in the %s model returns one value or nil, not a list", render(x), model)
				}
				return fmt.Errorf("micro-op %s: a %s takes one value, not a list", render(x), m.F)
			}
			m.List = make([]string, len(val))
			for i, e := range val {
				m.List[i] = renderPlain(e)
			}
		default:
			if read && model == ListAppend {
				return fmt.Errorf("micro-op %s: a read of a list that is not a list: the list-append model reads lists, e.g. [:r %s [1 2]] or [:r %s nil]",
					render(x), render(mv[1]), render(mv[1]))
			}
			if _, isSet := val.(map[any]bool); isSet {
				return fmt.Errorf("micro-op %s: a set is not a value of the %s model", render(x), model)
			}
			m.Value = harness.Str(renderPlain(val))
		}
		if read && op.Type != harness.OK {
			m.Value, m.List = nil, nil
		}
		if err := isolation.CheckMop(imodel, op.Type, m); err != nil {
			return fmt.Errorf("%v", strings.Replace(err.Error(), "micro-op "+m.String(), "micro-op "+render(x), 1))
		}
		op.Txn = append(op.Txn, m)
	}
	return nil
}

// encodeMops writes micro-ops as Elle's EDN: [[:append 3 2] [:r 3 [1 2]]].
func encodeMops(mops []harness.Mop) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, m := range mops {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "[%s %s ", keyword(m.F), ednValue(&m.Key))
		switch {
		case m.List != nil:
			b.WriteByte('[')
			for j, e := range m.List {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(ednValue(&e))
			}
			b.WriteByte(']')
		default:
			b.WriteString(ednValue(m.Value))
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}
