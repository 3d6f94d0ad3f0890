package isolation

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// CheckFile judges a history.jsonl as it is read, one line at a time,
// without holding the history whole: a million transactions as a
// harness.History take more memory than the check itself. A file whose ops
// are out of index order (the harness writes them in order) is read whole
// and sorted instead, as harness.ReadHistory does. A malformed line is a
// *harness.SyntaxError; an op the model cannot judge an *InputError, with
// the file and line.
func (c Checker) CheckFile(ctx context.Context, path string) (harness.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return harness.Result{}, err
	}
	defer f.Close()
	s := c.Stream()
	ctx, cancel := s.bound(ctx)
	defer cancel()
	br := bufio.NewReaderSize(f, 1<<20)
	line, last := 0, -1<<62
	var op harness.Op
	for {
		b, rerr := br.ReadSlice('\n')
		if errors.Is(rerr, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it.
			long := append([]byte(nil), b...)
			for errors.Is(rerr, bufio.ErrBufferFull) {
				b, rerr = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if len(b) > 0 {
			line++
			complete := b[len(b)-1] == '\n'
			if t := bytes.TrimSpace(b); len(t) > 0 {
				index, fast, err := s.addLine(t)
				if !fast {
					if err = decodeOp(t, &op); err != nil {
						if !complete && errors.Is(rerr, io.EOF) {
							break // a torn last line: the harness was killed mid-write
						}
						return harness.Result{}, &harness.SyntaxError{File: path, Line: line, Err: err}
					}
					index = op.Index
					if index >= last {
						err = s.add(op, -1)
					}
				}
				if index < last {
					return c.checkWhole(ctx, path)
				}
				last = index
				if err != nil {
					return harness.Result{}, fmt.Errorf("%s:%d: %w", path, line, err)
				}
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			return harness.Result{}, rerr
		}
		if line&0xffff == 0 && ctx.Err() != nil {
			break // Result says the check was cut short
		}
	}
	return s.Result(ctx), nil
}

func (c Checker) checkWhole(ctx context.Context, path string) (harness.Result, error) {
	h, err := harness.ReadHistory(path)
	if err != nil {
		return harness.Result{}, err
	}
	return c.Check(ctx, harness.CheckInput{History: h}), nil
}

// decodeOp reads a line addLine could not, with encoding/json, which also
// gives the precise error.
func decodeOp(b []byte, op *harness.Op) error {
	*op = harness.Op{}
	if err := json.Unmarshal(b, op); err != nil {
		return err
	}
	switch op.Type {
	case harness.Invoke, harness.OK, harness.Fail, harness.Info:
	default:
		return fmt.Errorf("type %q is not one of invoke, ok, fail, info", op.Type)
	}
	if op.F == "" {
		return errors.New(`missing "f"`)
	}
	return nil
}

// addLine reads one line of the common shape straight into the stream,
// keys and values interned from the bytes, no harness.Op made. It says
// whether it could (else the caller decodes the line in full) and the op's
// index.
func (s *Stream) addLine(b []byte) (index int, ok bool, err error) {
	if s.err != nil {
		return 0, true, s.err
	}
	kind, ok := s.parseLine(b)
	switch {
	case !ok:
		return 0, false, nil
	case kind == lineTxn:
		return s.raw.index, true, s.addRaw(&s.raw, -1)
	case kind == lineOther:
		s.nonTxn++
	}
	return s.raw.index, true, nil
}

type lineKind uint8

const (
	lineTxn lineKind = iota
	lineNemesis
	lineOther // an op of another function
)

// parseLine reads a line of the common shape (what the harness writes:
// flat fields, "txn" as arrays of [f, key, value], strings without
// escapes) into s.raw. It gives up (false) on anything else.
func (s *Stream) parseLine(b []byte) (lineKind, bool) {
	d := scanner{b: b}
	r := &s.raw
	*r = rawOp{mops: r.mops[:0]}
	s.arena = s.arena[:0]
	var f []byte
	nemesis, hasType := false, false
	if !d.eat('{') {
		return 0, false
	}
	for {
		k, ok := d.str()
		if !ok || !d.eat(':') {
			return 0, false
		}
		switch string(k) {
		case "index":
			n, ok := d.int()
			if !ok {
				return 0, false
			}
			r.index = int(n)
		case "time":
			n, ok := d.int()
			if !ok {
				return 0, false
			}
			r.time = n
		case "process":
			if d.peek() == '"' {
				p, ok := d.str()
				if !ok || string(p) != "nemesis" {
					return 0, false
				}
				nemesis = true
			} else {
				n, ok := d.int()
				if !ok {
					return 0, false
				}
				r.process = harness.Process(n)
			}
		case "type":
			t, ok := d.str()
			if !ok {
				return 0, false
			}
			switch string(t) {
			case "invoke":
				r.typ = harness.Invoke
			case "ok":
				r.typ = harness.OK
			case "fail":
				r.typ = harness.Fail
			case "info":
				r.typ = harness.Info
			default:
				return 0, false
			}
			hasType = true
		case "f":
			if f, ok = d.str(); !ok {
				return 0, false
			}
		case "key", "node", "error":
			if _, ok := d.str(); !ok {
				return 0, false
			}
		case "value", "from":
			if !d.skipScalar() {
				return 0, false
			}
		case "txn":
			r.mops, s.arena = r.mops[:0], s.arena[:0]
			if !d.rawTxn(s) {
				return 0, false
			}
		default:
			return 0, false
		}
		if d.eat(',') {
			continue
		}
		if !d.eat('}') {
			return 0, false
		}
		d.ws()
		if d.i != len(d.b) || !hasType || len(f) == 0 {
			return 0, false
		}
		break
	}
	switch {
	case nemesis:
		return lineNemesis, true
	case string(f) != harness.FTxn:
		return lineOther, true
	}
	return lineTxn, true
}

func (d *scanner) skipScalar() bool {
	switch c := d.peek(); {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == 'n':
		return d.null()
	default:
		_, ok := d.number()
		return ok
	}
}

// rawScalar reads a string or number as a key or value's bytes; null is
// nil, ok.
func (d *scanner) rawScalar() ([]byte, bool) {
	switch c := d.peek(); {
	case c == '"':
		return d.str()
	case c == 'n':
		return nil, d.null()
	default:
		return d.number()
	}
}

// rawTxn reads "txn" into the stream's raw op.
func (d *scanner) rawTxn(s *Stream) bool {
	r := &s.raw
	if d.null() {
		return true
	}
	if !d.eat('[') {
		return false
	}
	if d.eat(']') {
		return true
	}
	for {
		if !d.eat('[') {
			return false
		}
		f, ok := d.str()
		if !ok || len(f) == 0 || !d.eat(',') {
			return false
		}
		kb, ok := d.rawScalar()
		if !ok || kb == nil || !d.eat(',') {
			return false
		}
		k, err := s.in.keyBytes(kb)
		if err != nil {
			return false
		}
		if s.o.Model == ListAppend {
			for int(k) >= len(s.keys) {
				s.keys = append(s.keys, keyState{longestBy: -1})
			}
		}
		m := rawMop{f: fCode(string(f)), key: k, val: nilValue}
		if m.f == fOther {
			m.name = string(f)
		}
		if d.eat('[') {
			m.isList = true
			m.lo = int32(len(s.arena))
			if !d.eat(']') {
				for {
					v, ok := d.rawScalar()
					if !ok || v == nil {
						return false
					}
					s.arena = append(s.arena, s.in.valueBytes(v))
					if d.eat(',') {
						continue
					}
					if !d.eat(']') {
						return false
					}
					break
				}
			}
			m.hi = int32(len(s.arena))
		} else {
			v, ok := d.rawScalar()
			if !ok {
				return false
			}
			if v != nil {
				m.val = s.in.valueBytes(v)
			}
		}
		if !d.eat(']') {
			return false
		}
		r.mops = append(r.mops, m)
		if d.eat(',') {
			continue
		}
		return d.eat(']')
	}
}

// scanner reads the JSON of an op line, giving up (false) on anything
// unusual.
type scanner struct {
	b []byte
	i int
}

func (d *scanner) ws() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\t' || d.b[d.i] == '\r' || d.b[d.i] == '\n') {
		d.i++
	}
}

func (d *scanner) eat(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *scanner) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// str reads a string without escapes.
func (d *scanner) str() ([]byte, bool) {
	if !d.eat('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

// number reads a JSON number's text: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *scanner) number() ([]byte, bool) {
	d.ws()
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	first := d.i
	if n := digits(); n == 0 || n > 1 && d.b[first] == '0' {
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return d.b[start:d.i], true
}

func (d *scanner) int() (int64, bool) {
	n, ok := d.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	return v, err == nil
}

func (d *scanner) null() bool {
	d.ws()
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}
