package jepsen

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Encode writes h as Jepsen EDN, one op map per line (history.edn). Keys
// become independent [key value] tuples when the history uses more than one
// key, so Knossos and Elle check it per key as Jepsen's independent checker
// does; decimal values are written as integers. Transactions are written as
// Elle reads them: :f :txn, :value [[:append 3 2] [:r 3 [1 2]]].
func Encode(w io.Writer, h harness.History) error {
	keys := map[string]bool{}
	for _, op := range h {
		if !op.IsNemesis() {
			keys[op.Key] = true
		}
	}
	indep := len(keys) > 1
	bw := bufio.NewWriter(w)
	for _, op := range h {
		if _, err := bw.WriteString(encodeOp(op, indep)); err != nil {
			return err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func encodeOp(op harness.Op, indep bool) string {
	var b strings.Builder
	typ := string(op.Type)
	proc := strconv.Itoa(int(op.Process))
	if op.IsNemesis() {
		proc = ":nemesis"
		if op.Type == harness.OK {
			typ = "info" // Jepsen records nemesis completions as :info
		}
	}
	fmt.Fprintf(&b, "{:index %d, :time %d, :type :%s, :process %s, :f %s", op.Index, op.Time, typ, proc, keyword(op.F))
	var v string
	switch {
	case op.IsNemesis():
		v = ednValue(op.Value)
	case len(op.Txn) > 0:
		v = encodeMops(op.Txn)
	case op.F == harness.FCAS:
		// the same [from to] pair on invocation and completion, as Jepsen does
		v = "[" + ednValue(op.From) + " " + ednValue(op.Value) + "]"
	default:
		v = ednValue(op.Value)
	}
	if indep && !op.IsNemesis() && len(op.Txn) == 0 {
		v = "[" + ednString(op.Key) + " " + v + "]"
	}
	fmt.Fprintf(&b, ", :value %s", v)
	if op.Node != "" {
		fmt.Fprintf(&b, ", :node %s", ednString(op.Node))
	}
	if op.Error != "" {
		fmt.Fprintf(&b, ", :error %s", ednString(op.Error))
	}
	b.WriteString("}")
	return b.String()
}

func keyword(s string) string {
	if s == "" {
		return "nil"
	}
	return ":" + strings.Map(func(r rune) rune {
		if r == ' ' || r == ',' || r == '"' {
			return '-'
		}
		return r
	}, s)
}

func ednValue(v *string) string {
	if v == nil {
		return "nil"
	}
	if n, err := strconv.ParseInt(*v, 10, 64); err == nil && strconv.FormatInt(n, 10) == *v {
		return *v
	}
	return ednString(*v)
}

func ednString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
