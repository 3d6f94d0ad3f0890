package jepsen

// An EDN reader with positions. olympos.io/encoding/edn decodes EDN well but
// reports errors without a line or column, reads a top-level collection only
// whole (so an error cannot name the op it is in), and refuses some of what
// Clojure's reader accepts and real histories contain (#object[…],
// metadata, namespaced maps, octal and radix integers). This reader accepts
// what clojure.core/read accepts for data, produces olympos's value types
// (edn.Keyword, edn.Symbol, edn.Tag, edn.Rune) so values still print with
// edn.Marshal, and names line, column and what was expected in every error.

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"olympos.io/encoding/edn"
)

// maxDepth bounds nesting: no history nests deeply, and recursion on a
// hostile input must end in an error, never a stack overflow.
const maxDepth = 500

// Ratio and Decimal keep Clojure's 1/3 and 1.5M as written: they are
// compared as text, never as floats.
type (
	Ratio   string
	Decimal string
)

func (r Ratio) MarshalEDN() ([]byte, error)   { return []byte(r), nil }
func (d Decimal) MarshalEDN() ([]byte, error) { return []byte(d + "M"), nil }

// Pos is a place in the input, 1-based.
type Pos struct{ Line, Col int }

// SyntaxError is malformed EDN at Pos.
type SyntaxError struct {
	Pos
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

type reader struct {
	data  []byte
	off   int
	line  int
	col   int
	depth int
}

func newReader(data []byte) *reader { return &reader{data: data, line: 1, col: 1} }

func (r *reader) pos() Pos { return Pos{r.line, r.col} }

func (r *reader) errAt(p Pos, format string, args ...any) error {
	return &SyntaxError{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

// peek returns the next rune without consuming it; utf8.RuneError at EOF.
func (r *reader) peek() (rune, int) {
	if r.off >= len(r.data) {
		return utf8.RuneError, 0
	}
	return utf8.DecodeRune(r.data[r.off:])
}

func (r *reader) advance(c rune, size int) {
	r.off += size
	if c == '\n' {
		r.line++
		r.col = 1
	} else {
		r.col++
	}
}

func (r *reader) eof() bool { return r.off >= len(r.data) }

func isSpace(c rune) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\f' || c == '\v' || c == '\uFEFF'
}

// skip passes whitespace, commas and ; comments (and #! lines, which
// Clojure's reader also treats as comments).
func (r *reader) skip() {
	for !r.eof() {
		c, n := r.peek()
		switch {
		case isSpace(c):
			r.advance(c, n)
		case c == ';' || c == '#' && r.off+1 < len(r.data) && r.data[r.off+1] == '!':
			for !r.eof() {
				c, n := r.peek()
				if c == '\n' {
					break
				}
				r.advance(c, n)
			}
		default:
			return
		}
	}
}

// skipDiscards passes whitespace, comments and #_ forms.
func (r *reader) skipDiscards() error {
	for {
		r.skip()
		if !r.hasPrefix("#_") {
			return nil
		}
		p := r.pos()
		r.advance('#', 1)
		r.advance('_', 1)
		if _, err := r.form(); err != nil {
			if errors.Is(err, io.EOF) {
				return r.errAt(p, "#_ at the end of the input: want a form after it to discard")
			}
			return err
		}
	}
}

func (r *reader) hasPrefix(s string) bool {
	return len(r.data)-r.off >= len(s) && string(r.data[r.off:r.off+len(s)]) == s
}

// next reads the next form, skipping comments and discards; io.EOF when
// nothing but those is left. p is where the form starts.
func (r *reader) next() (v any, p Pos, err error) {
	if err := r.skipDiscards(); err != nil {
		return nil, r.pos(), err
	}
	if r.eof() {
		return nil, r.pos(), io.EOF
	}
	p = r.pos()
	v, err = r.form()
	return v, p, err
}

// form reads one form at the current position (no leading whitespace).
func (r *reader) form() (any, error) {
	if err := r.skipDiscards(); err != nil {
		return nil, err
	}
	if r.eof() {
		return nil, io.EOF
	}
	p := r.pos()
	c, n := r.peek()
	switch c {
	case '(', '[', '{':
		r.advance(c, n)
		return r.collection(c, p)
	case ')', ']', '}':
		return nil, r.errAt(p, "unexpected %q: nothing open to close here", c)
	case '"':
		r.advance(c, n)
		return r.str(p)
	case '\\':
		r.advance(c, n)
		return r.char(p)
	case '#':
		r.advance(c, n)
		return r.dispatch(p)
	case '^':
		r.advance(c, n)
		return r.meta(p)
	case '\'', '`', '~', '@':
		return nil, r.errAt(p, "%q is Clojure code syntax (quote, syntax-quote, unquote, deref), not data: want a value", c)
	}
	return r.atom(p)
}

var closer = map[rune]rune{'(': ')', '[': ']', '{': '}'}

// items reads forms up to the closing delimiter of open (opened at p).
func (r *reader) items(open rune, p Pos, what string) ([]any, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxDepth {
		return nil, r.errAt(p, "nested more than %d deep", maxDepth)
	}
	want := closer[open]
	var out []any
	for {
		if err := r.skipDiscards(); err != nil {
			return nil, err
		}
		if r.eof() {
			return nil, r.errAt(p, "the %s opened here is never closed: want %q before the end of the input", what, want)
		}
		c, n := r.peek()
		if c == want {
			r.advance(c, n)
			return out, nil
		}
		if c == ')' || c == ']' || c == '}' {
			return nil, r.errAt(r.pos(), "unexpected %q: want %q to close the %s opened at %d:%d", c, want, what, p.Line, p.Col)
		}
		v, err := r.form()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func (r *reader) collection(open rune, p Pos) (any, error) {
	switch open {
	case '(':
		xs, err := r.items(open, p, "list")
		if xs == nil && err == nil {
			xs = []any{}
		}
		return xs, err
	case '[':
		xs, err := r.items(open, p, "vector")
		if xs == nil && err == nil {
			xs = []any{}
		}
		return xs, err
	}
	xs, err := r.items(open, p, "map")
	if err != nil {
		return nil, err
	}
	return r.makeMap(xs, p, "")
}

// makeMap builds a map from alternating keys and values; ns qualifies
// unqualified keyword keys (#:ns{…}).
func (r *reader) makeMap(xs []any, p Pos, ns string) (any, error) {
	if len(xs)%2 != 0 {
		return nil, r.errAt(p, "the map opened here has %d forms: want key-value pairs (an even number)", len(xs))
	}
	m := make(map[any]any, len(xs)/2)
	for i := 0; i < len(xs); i += 2 {
		k := hashable(xs[i])
		if kw, ok := k.(edn.Keyword); ok && ns != "" && !containsSlash(string(kw)) {
			k = edn.Keyword(ns + "/" + string(kw))
		}
		if _, dup := m[k]; dup {
			return nil, r.errAt(p, "the map opened here has the key %s twice", render(xs[i]))
		}
		m[k] = xs[i+1]
	}
	return m, nil
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// hashable makes v usable as a Go map key: collections (and tags holding
// them) are boxed, as olympos's decoder does for set elements.
func hashable(v any) any {
	switch x := v.(type) {
	case []any, map[any]any, map[any]bool:
		return &v
	case edn.Tag:
		if _, ok := hashable(x.Value).(*any); ok {
			return &v
		}
	}
	return v
}

// meta reads ^meta form and returns the form: metadata is not data.
func (r *reader) meta(p Pos) (any, error) {
	if _, err := r.form(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, r.errAt(p, "^ at the end of the input: want metadata and a form")
		}
		return nil, err
	}
	v, err := r.form()
	if errors.Is(err, io.EOF) {
		return nil, r.errAt(p, "metadata at the end of the input: want the form it annotates")
	}
	return v, err
}

// dispatch reads what follows '#'.
func (r *reader) dispatch(p Pos) (any, error) {
	c, n := r.peek()
	switch {
	case r.eof():
		return nil, r.errAt(p, "# at the end of the input: want #{…}, #_, #tag or ##Inf")
	case c == '{':
		r.advance(c, n)
		xs, err := r.items('{', p, "set")
		if err != nil {
			return nil, err
		}
		s := make(map[any]bool, len(xs))
		for _, x := range xs {
			s[hashable(x)] = true
		}
		return s, nil
	case c == '_':
		r.advance(c, n)
		if _, err := r.form(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, r.errAt(p, "#_ at the end of the input: want a form after it to discard")
			}
			return nil, err
		}
		return r.form()
	case c == '"':
		r.advance(c, n)
		s, err := r.str(p)
		if err != nil {
			return nil, err
		}
		return edn.Tag{Tagname: "regex", Value: s}, nil
	case c == '#':
		r.advance(c, n)
		return r.symbolic(p)
	case c == ':':
		r.advance(c, n)
		return r.nsMap(p)
	case c == '\'' || c == '(' || c == '=' || c == '?' || c == '^':
		return nil, r.errAt(p, "#%c is Clojure code syntax, not data: want #{…}, #_, #tag value or ##Inf", c)
	}
	tag, err := r.atom(r.pos())
	if err != nil {
		return nil, err
	}
	sym, ok := tag.(edn.Symbol)
	if !ok {
		return nil, r.errAt(p, "# followed by %s: want a tag symbol (#inst, #jepsen.history.Op{…}), #{…} or #_", render(tag))
	}
	v, err := r.form()
	if errors.Is(err, io.EOF) {
		return nil, r.errAt(p, "#%s at the end of the input: want the value it tags", sym)
	}
	if err != nil {
		return nil, err
	}
	return edn.Tag{Tagname: string(sym), Value: v}, nil
}

// symbolic reads ##Inf, ##-Inf and ##NaN.
func (r *reader) symbolic(p Pos) (any, error) {
	v, err := r.atom(r.pos())
	if err != nil {
		return nil, err
	}
	switch v {
	case edn.Symbol("Inf"):
		return posInf, nil
	case edn.Symbol("-Inf"):
		return negInf, nil
	case edn.Symbol("NaN"):
		return nan, nil
	}
	return nil, r.errAt(p, "##%s: want ##Inf, ##-Inf or ##NaN", render(v))
}

// nsMap reads #:ns{…}, whose unqualified keyword keys take the namespace.
func (r *reader) nsMap(p Pos) (any, error) {
	start := r.off
	for !r.eof() {
		c, n := r.peek()
		if c == '{' || isSpace(c) {
			break
		}
		r.advance(c, n)
	}
	ns := string(r.data[start:r.off])
	r.skip()
	if c, n := r.peek(); c != '{' || ns == "" || ns == ":" {
		return nil, r.errAt(p, "#:%s: want a namespace and a map, e.g. #:jepsen{:type :ok}", ns)
	} else {
		r.advance(c, n)
	}
	xs, err := r.items('{', p, "map")
	if err != nil {
		return nil, err
	}
	return r.makeMap(xs, p, ns)
}
