// Package jepsen reads Jepsen and Knossos histories into Gauntlet's vocabulary
// and writes Gauntlet histories back as Jepsen EDN, so Jepsen users can check
// their history.edn with Gauntlet and run Knossos or Elle on ours.
//
// Two input formats are read:
//   - history.edn: one EDN map per line, or a single vector of maps (Knossos's
//     data files); Jepsen's tagged op records (#jepsen.history.Op{…}) too;
//   - Jepsen's text log ("INFO jepsen.util - 3 :invoke :write 4"), as in
//     porcupine's test_data.
//
// Values become strings (EDN integers in decimal; other values in EDN), so the
// same checkers judge imported and native histories. Independent keys —
// Jepsen's `independent` generator, values as [key value] tuples — become
// Op.Key, and are checked per key.
package jepsen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"olympos.io/encoding/edn"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Format names an input format.
type Format string

const (
	FormatEDN Format = "edn" // history.edn
	FormatLog Format = "log" // jepsen.util text log
)

// Model says how values are to be read.
type Model string

const (
	Register      Model = "register"       // read/write
	CASRegister   Model = "cas-register"   // read/write/cas [from to]
	MultiRegister Model = "multi-register" // txn of [f k v] micro-ops
	Set           Model = "set"            // add x / read #{…}
	Counter       Model = "counter"        // add n / read n
	// KVAppend is porcupine's kv test data: get/put/append on string
	// registers that start empty, keys in :key.
	KVAppend Model = "kv-append"
)

// Models lists the models Decode accepts.
func Models() []Model {
	return []Model{Register, CASRegister, MultiRegister, Set, Counter, KVAppend}
}

// ParseModel validates a model name.
func ParseModel(s string) (Model, error) {
	for _, m := range Models() {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown model %q: want one of register, cas-register, multi-register, set, counter, kv-append", s)
}

// Error is a malformed input: the line and what was wrong.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var logLine = regexp.MustCompile(`jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\S+)\s*(.*)$`)

// Detect guesses the format from the first non-empty line.
func Detect(data []byte) (Format, error) {
	for _, line := range bytes.Split(data, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if len(l) == 0 || l[0] == ';' {
			continue
		}
		switch {
		case l[0] == '{' || l[0] == '[' || l[0] == '#':
			return FormatEDN, nil
		case logLine.Match(l):
			return FormatLog, nil
		default:
			return "", errors.New("neither EDN (a line starting with { or [) nor a Jepsen log (\"… jepsen.util - P :type :f value\")")
		}
	}
	return "", errors.New("empty history")
}

// Decode reads a history in the given format ("" = detect).
func Decode(r io.Reader, name string, format Format, model Model) (harness.History, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if format == "" {
		if format, err = Detect(data); err != nil {
			return nil, &Error{File: name, Msg: err.Error()}
		}
	}
	var raws []rawOp
	switch format {
	case FormatEDN:
		raws, err = readEDN(data, name)
	case FormatLog:
		raws, err = readLog(data, name)
	default:
		return nil, fmt.Errorf("unknown format %q: want edn or log", format)
	}
	if err != nil {
		return nil, err
	}
	return convert(raws, name, model)
}

// rawOp is one parsed op before values are interpreted.
type rawOp struct {
	line    int
	index   int64
	hasIdx  bool
	time    int64
	hasTime bool
	process any
	typ     string
	f       string
	key     any
	hasKey  bool
	value   any
	err     any
	node    any
}

func readEDN(data []byte, name string) ([]rawOp, error) {
	lines := bytes.Split(data, []byte("\n"))
	var out []rawOp
	first, last := -1, -1
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	for i, line := range lines {
		l := bytes.TrimSpace(line)
		if len(l) == 0 || l[0] == ';' {
			continue
		}
		// A single vector of maps, one per line: strip the outer brackets.
		if i == first && l[0] == '[' {
			l = bytes.TrimSpace(l[1:])
		}
		if i == last && len(l) > 0 && l[len(l)-1] == ']' && bytes.Count(l, []byte("[")) < bytes.Count(l, []byte("]")) {
			l = bytes.TrimSpace(l[:len(l)-1])
		}
		if len(l) == 0 {
			continue
		}
		var v any
		if err := edn.Unmarshal(l, &v); err != nil {
			if i == first {
				// Not one op per line (pretty-printed): read the whole stream.
				return readEDNStream(data, name)
			}
			return nil, &Error{File: name, Line: i + 1, Msg: fmt.Sprintf("not an EDN map: %v", err)}
		}
		op, err := rawFromMap(v)
		if err != nil {
			return nil, &Error{File: name, Line: i + 1, Msg: err.Error()}
		}
		op.line = i + 1
		out = append(out, op)
	}
	return out, nil
}

// readEDNStream decodes a history that spans lines freely. Errors then name
// the op's position rather than a line.
func readEDNStream(data []byte, name string) ([]rawOp, error) {
	d := edn.NewDecoder(bytes.NewReader(data))
	var vals []any
	for {
		var v any
		err := d.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &Error{File: name, Msg: fmt.Sprintf("malformed EDN after %d ops: %v", len(vals), err)}
		}
		if vec, ok := v.([]any); ok && len(vals) == 0 {
			vals = append(vals, vec...)
			continue
		}
		vals = append(vals, v)
	}
	var out []rawOp
	for i, v := range vals {
		op, err := rawFromMap(v)
		if err != nil {
			return nil, &Error{File: name, Msg: fmt.Sprintf("op %d: %v", i+1, err)}
		}
		out = append(out, op)
	}
	return out, nil
}

func rawFromMap(v any) (rawOp, error) {
	if t, ok := v.(edn.Tag); ok { // #jepsen.history.Op{…}
		v = t.Value
	}
	m, ok := v.(map[any]any)
	if !ok {
		return rawOp{}, fmt.Errorf("want an op map like {:type :invoke, :f :read, :process 0, :value nil}, got %s", render(v))
	}
	get := func(k string) (any, bool) {
		x, ok := m[edn.Keyword(k)]
		return x, ok
	}
	var op rawOp
	t, ok := get("type")
	kw, isKw := t.(edn.Keyword)
	if !ok || !isKw {
		return op, errors.New("missing :type (want :invoke, :ok, :fail or :info)")
	}
	op.typ = string(kw)
	f, ok := get("f")
	if !ok {
		return op, errors.New("missing :f")
	}
	op.f = strings.TrimPrefix(render(f), ":")
	if p, ok := get("process"); ok {
		op.process = p
	} else {
		return op, errors.New("missing :process")
	}
	op.value, _ = get("value")
	if k, ok := get("key"); ok {
		op.key, op.hasKey = k, true
	}
	if x, ok := get("index"); ok {
		n, err := toInt(x)
		if err != nil {
			return op, fmt.Errorf(":index: %v", err)
		}
		op.index, op.hasIdx = n, true
	}
	if x, ok := get("time"); ok {
		n, err := toInt(x)
		if err != nil {
			return op, fmt.Errorf(":time: %v", err)
		}
		op.time, op.hasTime = n, true
	}
	op.err, _ = get("error")
	op.node, _ = get("node")
	return op, nil
}

func readLog(data []byte, name string) ([]rawOp, error) {
	var out []rawOp
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		m := logLine.FindSubmatch(sc.Bytes())
		if m == nil {
			continue // other log lines (setup, nemesis chatter) carry no ops
		}
		var proc any
		if n, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil {
			proc = n
		} else {
			proc = edn.Keyword(strings.TrimPrefix(string(m[1]), ":"))
		}
		op := rawOp{line: line, process: proc, typ: string(m[2]), f: string(m[3])}
		if rest := bytes.TrimSpace(m[4]); len(rest) > 0 {
			var v any
			if err := edn.Unmarshal(rest, &v); err != nil {
				op.value = string(rest) // free text (nemesis descriptions)
			} else if kw, ok := v.(edn.Keyword); ok && op.typ != "invoke" && (op.typ == "fail" || op.typ == "info") {
				op.err = kw // ":timed-out" and friends are reasons, not values
			} else {
				op.value = v
			}
		}
		out = append(out, op)
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: line + 1, Msg: err.Error()}
	}
	return out, nil
}

// convert interprets raw ops as Gauntlet ops under a model.
func convert(raws []rawOp, name string, model Model) (harness.History, error) {
	if model == "" {
		model = CASRegister
	}
	indep := false
	for _, r := range raws {
		if isIndependent(r, model) {
			indep = true
			break
		}
	}
	h := make(harness.History, 0, len(raws))
	invoked := map[any]rawOp{} // the open invocation of each process
	for i, r := range raws {
		// A completion without a value (":info :cas :timed-out") is about
		// the value its invocation carried, as Jepsen's checkers read it.
		if r.typ == "invoke" {
			invoked[procKey(r.process)] = r
		} else if inv, ok := invoked[procKey(r.process)]; ok {
			if r.value == nil && r.f != "read" && r.f != "get" {
				r.value = inv.value
			}
			if !r.hasKey && inv.hasKey {
				r.key, r.hasKey = inv.key, true
			}
			delete(invoked, procKey(r.process))
		}
		op, err := convertOp(r, model, indep)
		if err != nil {
			return nil, &Error{File: name, Line: r.line, Msg: err.Error()}
		}
		op.Index = i
		if r.hasIdx {
			op.Index = int(r.index)
		}
		if r.hasTime {
			op.Time = r.time
		} else {
			op.Time = int64(i) // order is all a log without times gives
		}
		h = append(h, op)
	}
	sort.SliceStable(h, func(i, j int) bool { return h[i].Index < h[j].Index })
	return h, nil
}

// procKey makes a process usable as a map key (EDN integers and keywords).
func procKey(p any) any {
	switch x := p.(type) {
	case int64, edn.Keyword, string:
		return x
	}
	return render(p)
}

func isIndependent(r rawOp, model Model) bool {
	if r.hasKey || isNemesis(r.process) {
		return false
	}
	vec, ok := r.value.([]any)
	if !ok || len(vec) != 2 {
		return false
	}
	switch model {
	case Register, CASRegister:
		if r.f == "cas" {
			inner, ok := vec[1].([]any)
			return ok && len(inner) == 2
		}
		return true
	case Set, Counter:
		return true
	}
	return false
}

func isNemesis(p any) bool {
	kw, ok := p.(edn.Keyword)
	return ok && kw == "nemesis"
}

func convertOp(r rawOp, model Model, indep bool) (harness.Op, error) {
	var op harness.Op
	switch r.typ {
	case "invoke", "ok", "fail", "info":
		op.Type = harness.Type(r.typ)
	default:
		return op, fmt.Errorf(":type :%s is not one of :invoke, :ok, :fail, :info", r.typ)
	}
	if isNemesis(r.process) {
		op.Process = harness.NemesisProcess
		op.F = r.f
		if r.value != nil {
			op.Value = harness.Str(renderPlain(r.value))
		}
		return op, nil
	}
	p, err := toInt(r.process)
	if err != nil {
		return op, fmt.Errorf(":process must be an integer or :nemesis, got %s", render(r.process))
	}
	op.Process = harness.Process(p)
	if r.err != nil {
		op.Error = renderPlain(r.err)
	}
	if r.node != nil {
		op.Node = renderPlain(r.node)
	}
	v := r.value
	if r.hasKey {
		op.Key = renderPlain(r.key)
	} else if indep {
		vec, ok := v.([]any)
		if !ok || len(vec) != 2 {
			return op, fmt.Errorf("independent history: want :value [key value], got %s", render(v))
		}
		op.Key = renderPlain(vec[0])
		v = vec[1]
	}
	op.F = r.f
	switch r.f {
	case "get":
		op.F = harness.FRead
	case "put":
		op.F = harness.FWrite
	}
	switch model {
	case Register, CASRegister:
		switch op.F {
		case harness.FRead, harness.FWrite, "append":
			op.Value = scalar(v)
		case harness.FCAS:
			if model == Register {
				return op, errors.New(":cas in a register history: use --model cas-register")
			}
			vec, ok := v.([]any)
			if !ok || len(vec) != 2 {
				return op, fmt.Errorf(":cas wants :value [from to], got %s", render(v))
			}
			op.From, op.Value = scalar(vec[0]), scalar(vec[1]) // From nil: expects absent
		default:
			return op, fmt.Errorf(":f :%s is not an operation of the %s model (read, write, cas)", r.f, model)
		}
	case KVAppend:
		switch op.F {
		case harness.FRead, harness.FWrite, "append":
			op.Value = scalar(v)
		default:
			return op, fmt.Errorf(":f :%s is not an operation of the kv-append model (get, put, append)", r.f)
		}
	case Counter:
		switch op.F {
		case harness.FRead, harness.FAdd:
			op.Value = scalar(v)
		default:
			return op, fmt.Errorf(":f :%s is not an operation of the counter model (add, read)", r.f)
		}
	case Set:
		switch op.F {
		case harness.FAdd:
			op.Value = scalar(v)
		case harness.FRead:
			if v != nil {
				op.Value = harness.Str(encodeSet(v))
			}
		default:
			return op, fmt.Errorf(":f :%s is not an operation of the set model (add, read)", r.f)
		}
	case MultiRegister:
		if op.F != "txn" {
			return op, fmt.Errorf(":f :%s is not an operation of the multi-register model (txn)", r.f)
		}
		s, err := encodeTxn(v)
		if err != nil {
			return op, err
		}
		if s != "" {
			op.Value = harness.Str(s)
		}
	default:
		return op, fmt.Errorf("unknown model %q", model)
	}
	return op, nil
}

// scalar renders a register value: nil stays nil.
func scalar(v any) *string {
	if v == nil {
		return nil
	}
	return harness.Str(renderPlain(v))
}

// renderPlain renders a value as the string Gauntlet compares: integers in
// decimal, strings bare, keywords with their colon, the rest in EDN.
func renderPlain(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case big.Int:
		return x.String()
	case *big.Int:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case edn.Keyword:
		return ":" + string(x)
	}
	return render(v)
}

func render(v any) string {
	if v == nil {
		return "nil"
	}
	b, err := edn.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
	case float64:
		return int64(x), nil
	}
	return 0, fmt.Errorf("want an integer, got %s", render(v))
}
