package linearizable

import (
	"hash/fnv"
	"html"

	"github.com/anishathalye/porcupine"
)

// The register model: one string-valued register per key that starts absent
// (or at Options.Initial), with read, write and compare-and-set.

type kind uint8

const (
	kRead kind = iota
	kWrite
	kCAS
)

type state struct {
	present bool
	v       string
}

type input struct {
	kind kind
	key  string
	from *string     // cas: expected value; nil = expects absent
	to   string      // write, cas: new value
	next interface{} // write, cas: state{present: true, v: to}, boxed once (nil: box per step)
}

type output struct {
	known bool    // false for info ops: the outcome is unknown
	value *string // read: what it returned; nil = absent
}

// matches says whether a cas expecting from may succeed on s. Jepsen imports
// encode a nil expected value as "", so "" also matches the absent register.
func matches(s state, from *string) bool {
	if from == nil {
		return !s.present
	}
	if s.present {
		return s.v == *from
	}
	return *from == ""
}

func step(st, in, out interface{}) (bool, interface{}) {
	s := st.(state)
	i := in.(*input)
	o := out.(*output)
	// An unchanged state is returned as given, and a new one is boxed
	// once per op (input.next): boxing a state per step allocated.
	switch i.kind {
	case kRead:
		if !o.known {
			return true, st
		}
		if o.value == nil {
			return !s.present, st
		}
		return s.present && s.v == *o.value, st
	case kWrite:
		return true, i.state()
	default: // kCAS
		if matches(s, i.from) {
			return true, i.state()
		}
		// An info cas whose expectation does not hold simply did not
		// apply here; an ok one cannot be placed here.
		return !o.known, st
	}
}

// state is the register after a write or cas of i.
func (i *input) state() interface{} {
	if i.next == nil {
		return state{present: true, v: i.to}
	}
	return i.next
}

func hashState(st interface{}) uint64 {
	s := st.(state)
	if !s.present {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(s.v))
	return h.Sum64() | 1
}

func describeState(st interface{}) string {
	s := st.(state)
	if !s.present {
		return "absent"
	}
	return showValue(s.v)
}

func describeOp(in, out interface{}) string {
	i := in.(*input)
	o := out.(*output)
	name := i.key
	if name == "" {
		name = "reg"
	}
	switch i.kind {
	case kRead:
		if o.value == nil {
			return "read " + name + " → absent"
		}
		return "read " + name + " → " + showValue(*o.value)
	case kWrite:
		s := "write " + name + "=" + showValue(i.to)
		if !o.known {
			s += " ?"
		}
		return s
	default:
		from := "absent"
		if i.from != nil {
			from = showValue(*i.from)
		}
		s := "cas " + name + " " + from + "→" + showValue(i.to)
		if !o.known {
			s += " ?"
		}
		return s
	}
}

// model returns the porcupine model for registers starting at initial
// (nil = absent). partition, if set, splits a multi-key history by key.
func model(initial *string, partition func([]porcupine.Operation) [][]porcupine.Operation) porcupine.Model {
	init := state{}
	if initial != nil {
		init = state{present: true, v: *initial}
	}
	return porcupine.Model{
		Partition:         partition,
		Init:              func() interface{} { return init },
		Step:              step,
		Hash:              hashState,
		DescribeOperation: describeOp,
		// porcupine's page shows states and metadata through innerHTML
		// (operation descriptions through textContent): values and keys are
		// user data, so those two are escaped.
		DescribeState: func(st interface{}) string { return html.EscapeString(describeState(st)) },
		DescribeOperationMetadata: func(m interface{}) string {
			switch md := m.(type) {
			case meta:
				return html.EscapeString(md.text)
			case *meta:
				return html.EscapeString(md.text)
			case *vmeta:
				return html.EscapeString(tooltip(*md.src))
			}
			return ""
		},
	}
}

// meta rides along each porcupine operation: which record it came from and
// what the visualization's tooltip says about it.
type meta struct {
	rec  int
	text string
}
