// Package jepsen reads Jepsen and Knossos histories into Gauntlet's vocabulary
// and writes Gauntlet histories back as Jepsen EDN, so Jepsen users can check
// their history.edn with Gauntlet and run Knossos or Elle on ours.
//
// Two input formats are read:
//   - history.edn: op maps at the top level or in vectors or lists, laid out
//     in any way, with comments and #_ discards, tagged op records
//     (#jepsen.history.Op{…}) — whatever Clojure's reader reads as data
//     (edn.go, with line and column in every error);
//   - Jepsen's text log ("INFO jepsen.util - 3 :invoke :write 4"), as in
//     porcupine's test_data, and history.txt ("3<tab>:invoke<tab>:write<tab>4").
//
// How an imported history is judged (the checkers of each model, the
// verdict of an import) is in judge.go.
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
	Mutex    Model = "mutex" // acquire / release, Knossos's mutex
	// Elle's transactional models, judged by checkers/isolation: :txn ops
	// of [:append k v] and [:r k [v …]], or of [:w k v] and [:r k v].
	ListAppend Model = "list-append"
	RWRegister Model = "rw-register"
)

// Models lists the models Decode accepts.
func Models() []Model {
	return []Model{Register, CASRegister, MultiRegister, Set, Counter, KVAppend, Mutex, ListAppend, RWRegister}
}

// ParseModel validates a model name.
func ParseModel(s string) (Model, error) {
	for _, m := range Models() {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown model %q: want one of register, cas-register, multi-register, set, counter, kv-append, mutex, list-append, rw-register", s)
}

// Error is a malformed input: the line and what was wrong.
type Error struct {
	File string
	Line int
	Col  int // 0 when only the line is known
	Msg  string
}

func (e *Error) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// logLine is an op line of Jepsen's log ("INFO jepsen.util - 3 :invoke
// :write 4"); txtLine one of Jepsen's history.txt ("3\t:invoke\t:write\t4").
var (
	logLine = regexp.MustCompile(`jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\S+)\s*(.*)$`)
	txtLine = regexp.MustCompile(`^\s*(\d+|:nemesis)\t:(invoke|ok|fail|info)\t:(\S+)\s*(.*)$`)
)

// Detect guesses the format: EDN if the first form (after comments and
// #_ discards) opens a map, vector, list, tagged value or metadata; a
// Jepsen log or history.txt if some line is an op line.
func Detect(data []byte) (Format, error) {
	rd := newReader(data)
	if err := rd.skipDiscards(); err == nil && !rd.eof() {
		c, _ := rd.peek()
		// A log line may start with "[" too ("[main] INFO …"): a vector
		// is EDN only if no early line is an op line.
		if strings.ContainsRune("{(#^", c) || c == '[' && !hasOpLine(data, 200) {
			return FormatEDN, nil
		}
	} else if err == nil {
		return "", errors.New("empty history")
	}
	if hasOpLine(data, -1) {
		return FormatLog, nil
	}
	return "", errors.New(`neither EDN (op maps {:type :invoke, :f :read, :process 0, :value nil}, alone or in [ ] or ( )) nor a Jepsen log ("… jepsen.util - P :type :f value") nor history.txt ("P<tab>:type<tab>:f<tab>value")`)
}

// hasOpLine says whether one of the first max lines (all if max < 0) is an
// op line of a Jepsen log or history.txt.
func hasOpLine(data []byte, max int) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 0; sc.Scan() && n != max; n++ {
		if logLine.Match(sc.Bytes()) || txtLine.Match(sc.Bytes()) {
			return true
		}
	}
	return false
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
	col     int
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

// readEDN reads a history.edn: op maps at the top level, or inside one or
// more top-level vectors or lists, laid out over lines in any way.
func readEDN(data []byte, name string) ([]rawOp, error) {
	rd := newReader(data)
	var out []rawOp
	add := func(v any, p Pos) error {
		op, err := rawFromMap(v)
		if err != nil {
			return &Error{File: name, Line: p.Line, Col: p.Col, Msg: "op " + strconv.Itoa(len(out)+1) + ": " + err.Error()}
		}
		op.line, op.col = p.Line, p.Col
		out = append(out, op)
		return nil
	}
	for {
		if err := rd.skipDiscards(); err != nil {
			return nil, syntaxError(name, err)
		}
		if rd.eof() {
			break
		}
		if c, n := rd.peek(); c == '[' || c == '(' {
			// A collection of ops: read it element by element so that an
			// error names the op it is in.
			open := rd.pos()
			rd.advance(c, n)
			if err := readOps(rd, c, open, add); err != nil {
				return nil, syntaxError(name, err)
			}
			continue
		}
		v, p, err := rd.next()
		if err != nil {
			return nil, syntaxError(name, err)
		}
		if err := add(v, p); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, &Error{File: name, Msg: "no ops: want op maps like {:type :invoke, :f :read, :process 0, :value nil}"}
	}
	return out, nil
}

// readOps reads the elements of a top-level collection opened at open.
func readOps(rd *reader, c rune, open Pos, add func(any, Pos) error) error {
	want := closer[c]
	for {
		if err := rd.skipDiscards(); err != nil {
			return err
		}
		if rd.eof() {
			return rd.errAt(open, "the history opened here is never closed: want %q before the end of the input", want)
		}
		if c, n := rd.peek(); c == want {
			rd.advance(c, n)
			return nil
		}
		v, p, err := rd.next()
		if err != nil {
			return err
		}
		if err := add(v, p); err != nil {
			return err
		}
	}
}

// syntaxError turns a reader error into an Error naming the file.
func syntaxError(name string, err error) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		return &Error{File: name, Line: se.Line, Col: se.Col, Msg: se.Msg}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{File: name, Msg: err.Error()}
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
	if kw, ok := f.(edn.Keyword); ok {
		op.f = string(kw)
	} else {
		op.f = strings.TrimPrefix(render(f), ":")
	}
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
			if m = txtLine.FindSubmatch(sc.Bytes()); m == nil {
				continue // other log lines (setup, nemesis chatter) carry no ops
			}
		}
		var proc any
		if n, err := strconv.ParseInt(string(m[1]), 10, 64); err == nil {
			proc = n
		} else {
			proc = edn.Keyword(strings.TrimPrefix(string(m[1]), ":"))
		}
		op := rawOp{line: line, process: proc, typ: string(m[2]), f: string(m[3])}
		logValue(&op, bytes.TrimSpace(m[4]))
		out = append(out, op)
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: line + 1, Msg: err.Error()}
	}
	if len(out) == 0 {
		return nil, &Error{File: name, Msg: "no op lines (\"… jepsen.util - P :type :f value\")"}
	}
	return out, nil
}

// logValue reads what follows :f on a log line: the value, then perhaps an
// error (Jepsen prints it after a tab). Text that is no EDN value is a
// nemesis's description and kept whole.
func logValue(op *rawOp, rest []byte) {
	if len(rest) == 0 {
		return
	}
	rd := newReader(rest)
	v, _, err := rd.next()
	if err != nil {
		op.value = string(rest)
		return
	}
	tail := strings.TrimSpace(string(rest[rd.off:]))
	if kw, ok := v.(edn.Keyword); ok && tail == "" && (op.typ == "fail" || op.typ == "info") {
		op.err = kw // ":timed-out" and friends are reasons, not values
		return
	}
	op.value = v
	if tail != "" {
		op.err = tail
	}
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
			msg := fmt.Sprintf("op %d (process %s, :%s :%s): %v", i+1, renderPlain(r.process), r.typ, r.f, err)
			return nil, &Error{File: name, Line: r.line, Col: r.col, Msg: msg}
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
	case Set, Counter, Mutex:
		return true
	case MultiRegister: // [k [[:r :x nil] …]], not a txn of two micro-ops
		return !isMicroOp(vec[0]) && (vec[1] == nil || isTxn(vec[1]))
	}
	return false
}

func isMicroOp(v any) bool {
	m, ok := v.([]any)
	return ok && len(m) == 3
}

func isTxn(v any) bool {
	ms, ok := v.([]any)
	for _, m := range ms {
		ok = ok && isMicroOp(m)
	}
	return ok
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
	return op, setValue(&op, r, v, model)
}

// setValue reads an op's value as its model has it.
func setValue(op *harness.Op, r rawOp, v any, model Model) error {
	switch model {
	case Register, CASRegister:
		switch op.F {
		case harness.FRead, harness.FWrite, "append":
			op.Value = scalar(v)
		case harness.FCAS:
			if model == Register {
				return errors.New(":cas in a register history: use --model cas-register")
			}
			vec, ok := v.([]any)
			if !ok || len(vec) != 2 {
				return fmt.Errorf(":cas wants :value [from to], got %s", render(v))
			}
			op.From, op.Value = scalar(vec[0]), scalar(vec[1]) // From nil: expects absent
		default:
			return fmt.Errorf(":f :%s is not an operation of the %s model (read, write, cas)", r.f, model)
		}
	case KVAppend:
		switch op.F {
		case harness.FRead, harness.FWrite, "append":
			op.Value = scalar(v)
		default:
			return fmt.Errorf(":f :%s is not an operation of the kv-append model (get, put, append)", r.f)
		}
	case Counter:
		switch op.F {
		case harness.FRead, harness.FAdd:
			op.Value = scalar(v)
		default:
			return fmt.Errorf(":f :%s is not an operation of the counter model (add, read)", r.f)
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
			return fmt.Errorf(":f :%s is not an operation of the set model (add, read)", r.f)
		}
	case Mutex:
		if op.F != "acquire" && op.F != "release" {
			return fmt.Errorf(":f :%s is not an operation of the mutex model (acquire, release)", r.f)
		}
	case ListAppend, RWRegister:
		return setTxn(op, v, model)
	case MultiRegister:
		if op.F != "txn" {
			return fmt.Errorf(":f :%s is not an operation of the multi-register model (txn)", r.f)
		}
		s, err := encodeTxn(v)
		if err != nil {
			return err
		}
		if s != "" {
			op.Value = harness.Str(s)
		}
	default:
		return fmt.Errorf("unknown model %q", model)
	}
	return nil
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
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), nil
		}
	case float64:
		return int64(x), nil
	}
	return 0, fmt.Errorf("want an integer, got %s", render(v))
}
