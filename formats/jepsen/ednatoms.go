package jepsen

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"olympos.io/encoding/edn"
)

var (
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
	nan    = math.NaN()
)

// terminates says whether c ends a token, as in Clojure's reader: #, quote
// and % do not (a#b is one symbol).
func terminates(c rune) bool {
	if isSpace(c) {
		return true
	}
	switch c {
	case '"', ';', '@', '^', '`', '~', '(', ')', '[', ']', '{', '}', '\\':
		return true
	}
	return false
}

// token reads up to the next terminating character.
func (r *reader) token() string {
	start := r.off
	for !r.eof() {
		c, n := r.peek()
		if c == utf8.RuneError && n == 1 {
			break
		}
		if terminates(c) {
			break
		}
		r.advance(c, n)
	}
	return string(r.data[start:r.off])
}

// atom reads a number, keyword, symbol, nil, true or false.
func (r *reader) atom(p Pos) (any, error) {
	tok := r.token()
	if tok == "" {
		c, _ := r.peek()
		return nil, r.errAt(p, "unexpected %q: want a value", c)
	}
	switch tok {
	case "nil":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	c := tok[0]
	if c >= '0' && c <= '9' || (c == '+' || c == '-') && len(tok) > 1 && tok[1] >= '0' && tok[1] <= '9' {
		v, ok := number(tok)
		if !ok {
			return nil, r.errAt(p, "%q is not a number: want e.g. 42, -7, 42N, 1.5, 1e3, 1.5M, 1/3, 0x1F or 2r101", tok)
		}
		return v, nil
	}
	if c == ':' {
		name := strings.TrimPrefix(tok[1:], ":") // ::kw: auto-resolved, kept by name
		if name == "" || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ":") {
			return nil, r.errAt(p, "%q is not a keyword: want e.g. :ok or :jepsen/type", tok)
		}
		return edn.Keyword(name), nil
	}
	if strings.HasSuffix(tok, ":") || strings.HasSuffix(tok, "/") && tok != "/" {
		return nil, r.errAt(p, "%q is not a symbol", tok)
	}
	return edn.Symbol(tok), nil
}

var (
	intRE   = regexp.MustCompile(`^([-+]?)(?:(0)|([1-9][0-9]*)|0[xX]([0-9A-Fa-f]+)|0([0-7]+)|([1-9][0-9]?)[rR]([0-9A-Za-z]+)|0[0-9]+)(N)?$`)
	floatRE = regexp.MustCompile(`^[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?(M)?$`)
	ratioRE = regexp.MustCompile(`^([-+]?[0-9]+)/([0-9]+)$`)
)

// number parses Clojure's number syntax: int64 where it fits, *big.Int
// beyond that or with N, float64, Decimal for M, Ratio for a/b.
func number(tok string) (any, bool) {
	// The common case first: a short decimal integer.
	if n, err := strconv.ParseInt(tok, 10, 64); err == nil && (tok[0] != '0' || len(tok) == 1) {
		return n, true
	}
	if m := intRE.FindStringSubmatch(tok); m != nil {
		digits, base := "", 10
		switch {
		case m[2] != "":
			digits = "0"
		case m[3] != "":
			digits = m[3]
		case m[4] != "":
			digits, base = m[4], 16
		case m[5] != "":
			digits, base = m[5], 8
		case m[6] != "":
			b, _ := strconv.Atoi(m[6])
			if b < 2 || b > 36 {
				return nil, false
			}
			digits, base = m[7], b
		default:
			return nil, false // 08, 09: invalid octal, as in Clojure
		}
		n, ok := new(big.Int).SetString(m[1]+digits, base)
		if !ok {
			return nil, false
		}
		if n.IsInt64() && m[8] == "" {
			return n.Int64(), true
		}
		return n, true
	}
	if m := floatRE.FindStringSubmatch(tok); m != nil {
		if m[3] != "" {
			return Decimal(strings.TrimSuffix(tok, "M")), true
		}
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil && !strings.Contains(err.Error(), "range") {
			return nil, false
		}
		return f, true
	}
	if m := ratioRE.FindStringSubmatch(tok); m != nil {
		if strings.Trim(m[2], "0") == "" {
			return nil, false // divide by zero
		}
		return Ratio(tok), true
	}
	return nil, false
}

var escapes = map[rune]rune{'t': '\t', 'r': '\r', 'n': '\n', '\\': '\\', '"': '"', 'b': '\b', 'f': '\f'}

// str reads a string after its opening quote (at p).
func (r *reader) str(p Pos) (string, error) {
	var b strings.Builder
	for {
		if r.eof() {
			return "", r.errAt(p, "unexpected end of input: want \" to close the string opened here")
		}
		c, n := r.peek()
		r.advance(c, n)
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if err := r.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteRune(c)
		}
	}
}

func (r *reader) escape(b *strings.Builder) error {
	p := r.pos()
	if r.eof() {
		return r.errAt(p, "unexpected end of input in a string escape")
	}
	c, n := r.peek()
	r.advance(c, n)
	if e, ok := escapes[c]; ok {
		b.WriteRune(e)
		return nil
	}
	switch {
	case c == 'u':
		return r.codeUnit(b, p, 4, 16)
	case c >= '0' && c <= '7':
		r.off, r.col = r.off-1, r.col-1 // the digit is part of the code
		return r.codeUnit(b, p, 3, 8)
	}
	return r.errAt(p, "unsupported escape \\%c in a string: want \\n, \\t, \\r, \\\", \\\\, \\b, \\f, \\uXXXX or \\NNN", c)
}

// codeUnit reads up to width digits of base into one character.
func (r *reader) codeUnit(b *strings.Builder, p Pos, width, base int) error {
	start := r.off
	for r.off-start < width && !r.eof() {
		c, n := r.peek()
		if _, err := strconv.ParseUint(string(c), base, 8); err != nil {
			break
		}
		r.advance(c, n)
	}
	digits := string(r.data[start:r.off])
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || base == 16 && len(digits) != 4 || base == 8 && v > 0377 {
		return r.errAt(p, "bad character code %q in a string", digits)
	}
	b.WriteRune(rune(v))
	return nil
}

var charNames = map[string]rune{"newline": '\n', "space": ' ', "tab": '\t', "return": '\r', "backspace": '\b', "formfeed": '\f'}

// char reads a character literal after its backslash (at p).
func (r *reader) char(p Pos) (any, error) {
	if r.eof() {
		return nil, r.errAt(p, "\\ at the end of the input: want a character such as \\a or \\newline")
	}
	c, n := r.peek()
	r.advance(c, n) // the first character is taken even if it terminates tokens: \( \"
	rest := r.token()
	if rest == "" {
		return edn.Rune(c), nil
	}
	tok := string(c) + rest
	if ch, ok := charNames[tok]; ok {
		return edn.Rune(ch), nil
	}
	if len(tok) == 5 && c == 'u' {
		if v, err := strconv.ParseUint(tok[1:], 16, 32); err == nil {
			return edn.Rune(rune(v)), nil
		}
	}
	if len(tok) >= 2 && len(tok) <= 4 && c == 'o' {
		if v, err := strconv.ParseUint(tok[1:], 8, 32); err == nil && v <= 0377 {
			return edn.Rune(rune(v)), nil
		}
	}
	return nil, r.errAt(p, "\\%s is not a character: want \\a, \\newline, \\space, \\tab, \\uXXXX or \\oNNN", tok)
}
