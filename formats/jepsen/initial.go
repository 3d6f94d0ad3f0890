package jepsen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Initial is what registers hold before the first op (--initial). The zero
// value is Gauntlet's default: every register starts absent (nil), as
// Knossos's (cas-register) and (multi-register {}) do; Knossos's own tests
// use (cas-register 0) and (multi-register {:x 0 :y 0}).
type Initial struct {
	Value *string           `json:"value,omitempty"` // register, cas-register: every key's value
	Regs  map[string]string `json:"regs,omitempty"`  // multi-register: per key
}

// ParseInitial reads --initial for a model: an EDN value (0, "a", :k, nil)
// for the register models, a map ({:x 0 :y 0} in EDN or {"x": 0} in JSON)
// for multi-register.
func ParseInitial(s string, model Model) (Initial, error) {
	v, err := parseValue(s)
	if err != nil {
		return Initial{}, fmt.Errorf("--initial %q: %v", s, err)
	}
	switch model {
	case Register, CASRegister, "":
		if _, isMap := v.(map[any]any); isMap {
			return Initial{}, fmt.Errorf("--initial %q: a map is for --model multi-register; a register starts at one value, e.g. --initial 0", s)
		}
		return Initial{Value: scalar(v)}, nil
	case MultiRegister:
		m, ok := v.(map[any]any)
		if !ok && v != nil {
			return Initial{}, fmt.Errorf("--initial %q: multi-register starts from a map of registers, e.g. --initial '{:x 0 :y 0}' or '{\"x\": 0, \"y\": 0}'", s)
		}
		regs := map[string]string{}
		for k, x := range m {
			if x != nil { // nil is absent, the default
				regs[renderPlain(deref(k))] = renderPlain(x)
			}
		}
		return Initial{Regs: regs}, nil
	}
	return Initial{}, fmt.Errorf("--initial applies to the register, cas-register and multi-register models, not %s", model)
}

// parseValue reads one EDN value, or JSON (whose "k": v maps are not EDN).
func parseValue(s string) (any, error) {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") && json.Valid([]byte(t)) && strings.Contains(t, ":") {
		d := json.NewDecoder(strings.NewReader(t))
		d.UseNumber()
		var j any
		if err := d.Decode(&j); err == nil {
			return fromJSON(j), nil
		}
	}
	rd := newReader([]byte(s))
	v, _, err := rd.next()
	if err != nil {
		return nil, fmt.Errorf("not an EDN or JSON value: %v", err)
	}
	if rest := bytes.TrimSpace(rd.data[rd.off:]); len(rest) > 0 {
		return nil, fmt.Errorf("want one value, found more after it: %q", rest)
	}
	return v, nil
}

// fromJSON converts decoded JSON to the reader's EDN types.
func fromJSON(j any) any {
	switch x := j.(type) {
	case json.Number:
		v, ok := number(x.String())
		if !ok {
			return x.String()
		}
		return v
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, v := range x {
			m[k] = fromJSON(v) // "x": matched against :x in Resolve
		}
		return m
	case []any:
		for i := range x {
			x[i] = fromJSON(x[i])
		}
		return x
	}
	return j
}

// Resolve matches the keys of the map against the history: JSON has no
// keywords, so "x" names the register the history calls :x when no register
// is called "x".
func (in Initial) Resolve(h harness.History) Initial {
	if len(in.Regs) == 0 {
		return in
	}
	used := map[string]bool{}
	for _, op := range h {
		if op.Value == nil || op.F != "txn" {
			continue
		}
		if ops, err := DecodeTxn(*op.Value); err == nil {
			for _, m := range ops {
				used[m.Key] = true
			}
		}
	}
	out := Initial{Regs: make(map[string]string, len(in.Regs))}
	for k, v := range in.Regs {
		if !used[k] && used[":"+k] {
			k = ":" + k
		}
		out.Regs[k] = v
	}
	return out
}

// String renders the initial value for people: 0, {:x 0, :y 0}, nil.
func (in Initial) String() string {
	switch {
	case in.Value != nil:
		return *in.Value
	case len(in.Regs) > 0:
		parts := make([]string, 0, len(in.Regs))
		for k, v := range in.Regs {
			parts = append(parts, k+" "+v)
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "nil"
}
