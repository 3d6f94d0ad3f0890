package jepsen

import (
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"olympos.io/encoding/edn"
)

func readOne(t *testing.T, s string) any {
	t.Helper()
	rd := newReader([]byte(s))
	v, _, err := rd.next()
	require.NoError(t, err, s)
	return v
}

func TestReaderValues(t *testing.T) {
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	cases := map[string]any{
		"nil": nil, "true": true, "false": false,
		"42": int64(42), "-7": int64(-7), "+3": int64(3), "42N": big.NewInt(42), "0x1F": int64(31), "017": int64(15), "2r101": int64(5),
		"123456789012345678901234567890": big1,
		"1.5":                            1.5, "1e3": 1000.0, "-2.5E-1": -0.25, "1.5M": Decimal("1.5"), "1/3": Ratio("1/3"),
		`"a\"b\n\u0041\101"`: "a\"b\nAA",
		`\a`:                 edn.Rune('a'), `\newline`: edn.Rune('\n'), `\u00e9`: edn.Rune('é'), `\(`: edn.Rune('('),
		":ok": edn.Keyword("ok"), ":jepsen/type": edn.Keyword("jepsen/type"), "foo.bar/baz": edn.Symbol("foo.bar/baz"), "a#b": edn.Symbol("a#b"),
		"[1 (2) []]":                     []any{int64(1), []any{int64(2)}, []any{}},
		"{:a 1, :b [2]}":                 map[any]any{edn.Keyword("a"): int64(1), edn.Keyword("b"): []any{int64(2)}},
		"#{1 2}":                         map[any]bool{int64(1): true, int64(2): true},
		"#inst \"2020-01-01\"":           edn.Tag{Tagname: "inst", Value: "2020-01-01"},
		"#object[Foo 0x1 \"x\"]":         edn.Tag{Tagname: "object", Value: []any{edn.Symbol("Foo"), int64(1), "x"}},
		"^{:m 1} [1]":                    []any{int64(1)},
		"^:private x":                    edn.Symbol("x"),
		"#:op{:type :ok :a/b 1}":         map[any]any{edn.Keyword("op/type"): edn.Keyword("ok"), edn.Keyword("a/b"): int64(1)},
		"[1 #_ 2 #_#_ 3 4 5]":            []any{int64(1), int64(5)},
		"; c\n#! shebang\n[1 ; two\n 3]": []any{int64(1), int64(3)},
	}
	for in, want := range cases {
		assert.Equal(t, want, readOne(t, in), in)
	}
	inf := readOne(t, "##Inf").(float64)
	assert.True(t, inf > 1e308)
	// A vector as a map key or set element is boxed, not a panic.
	m := readOne(t, "{[1 2] :a}").(map[any]any)
	assert.Len(t, m, 1)
	s := readOne(t, "#{[1] {:a 1}}").(map[any]bool)
	assert.Len(t, s, 2)
}

func TestReaderErrorsNamePlaceAndWant(t *testing.T) {
	cases := []struct{ in, pos, msg string }{
		{"[1 2", "1:1", "vector opened here is never closed"},
		{"{:a 1\n :b}", "1:1", "even number"},
		{"{:a 1 :a 2}", "1:1", "key :a twice"},
		{"[1 2)", "1:5", "want ']'"},
		{"\n  )", "2:3", "nothing open to close"},
		{"\"abc", "1:1", "close the string"},
		{"[1 08]", "1:4", "not a number"},
		{"[\"\\q\"]", "1:4", "unsupported escape"},
		{"#(inc %)", "1:1", "code syntax"},
		{"'x", "1:1", "code syntax"},
		{"##Foo", "1:1", "##Inf"},
		{"#_", "1:1", "want a form after it"},
		{"#foo", "1:1", "want the value it tags"},
		{"\\bogus", "1:1", "not a character"},
		{":", "1:1", "not a keyword"},
		{strings.Repeat("[", 600), "1:501", "nested more than"},
	}
	for _, c := range cases {
		_, _, err := newReader([]byte(c.in)).next()
		require.Error(t, err, c.in)
		assert.Contains(t, err.Error(), c.pos+": ", c.in)
		assert.Contains(t, err.Error(), c.msg, c.in)
	}
}
