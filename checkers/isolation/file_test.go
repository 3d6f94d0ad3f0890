package isolation

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation/txnsim"
	"github.com/gauntlet-dev/gauntlet/harness"
)

func writeHistory(t *testing.T, h harness.History) string {
	t.Helper()
	var b strings.Builder
	for _, op := range h {
		l, err := op.MarshalLine()
		require.NoError(t, err)
		b.Write(l)
		b.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), harness.HistoryFile)
	require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
	return p
}

// rawString renders the op a stream was handed.
func rawString(s *Stream) string {
	r := s.raw
	out := fmt.Sprintf("%d %s %s %d:", r.index, r.process, r.typ, r.time)
	for _, m := range r.mops {
		out += " " + s.rawText(m) + fmt.Sprint(m.isList)
	}
	return out
}

// parsedAsJSON says whether the line reader read b as encoding/json does.
func parsedAsJSON(t *testing.T, b []byte) {
	a := New(Options{Model: ListAppend}).Stream()
	kind, ok := a.parseLine(b)
	if !ok {
		return
	}
	var op harness.Op
	require.NoError(t, decodeOp(b, &op), "the line reader read %q, encoding/json refused it", b)
	switch {
	case op.IsNemesis():
		assert.Equal(t, lineNemesis, kind)
	case op.F != harness.FTxn:
		assert.Equal(t, lineOther, kind)
	default:
		require.Equal(t, lineTxn, kind)
		j := New(Options{Model: ListAppend}).Stream()
		require.NoError(t, j.rawFrom(op))
		j.raw.index, j.raw.process, j.raw.typ, j.raw.time = op.Index, op.Process, op.Type, op.Time
		assert.Equal(t, rawString(j), rawString(a), string(b))
	}
}

// The line reader reads what the harness writes exactly as encoding/json
// does.
func TestParseLine(t *testing.T) {
	h := txnsim.History(rand.New(rand.NewSource(3)), txnsim.Config{ListAppend: true, Clients: 5, Total: 300, InfoRate: 0.1, FailRate: 0.1})
	h = append(h, harness.Op{Index: 999, Process: harness.NemesisProcess, Type: harness.Info, F: "start-partition", Value: harness.Str("a fault"), Node: "n1,n2"},
		harness.Op{Index: 1000, Process: 3, Type: harness.OK, F: harness.FCAS, Key: "k", From: harness.Str("1"), Value: harness.Str("2"), Error: "e"},
		harness.Op{Index: 1001, Process: 4, Type: harness.OK, F: harness.FTxn, Txn: []harness.Mop{{F: harness.MRead, Key: "x"}, {F: harness.MRead, Key: "y", List: []string{}}}})
	for _, op := range h {
		l, err := op.MarshalLine()
		require.NoError(t, err)
		a := New(Options{Model: ListAppend}).Stream()
		_, ok := a.parseLine(l)
		require.True(t, ok, "the harness's own line %s", l)
		parsedAsJSON(t, l)
	}
	// Numbers where the harness writes strings, as an Elle history turned
	// into JSON has them.
	parsedAsJSON(t, []byte(`{"index":1,"process":0,"type":"ok","f":"txn","txn":[["append",3,4],["r",3,[1,2]]],"time":5}`))
	// What it does not read goes to encoding/json: escapes, odd numbers.
	for _, l := range []string{`{"index":1,"process":0,"type":"ok","f":"txn","txn":[["append","a\"b","1"]]}`,
		`{"index":1,"process":0,"type":"ok","f":"txn","txn":[["append","x",01]]}`, `{"index":1,"process":0,"type":"done","f":"txn"}`} {
		_, ok := New(Options{Model: ListAppend}).Stream().parseLine([]byte(l))
		assert.False(t, ok, l)
	}
	var op harness.Op
	assert.Error(t, decodeOp([]byte(`{"index":1,"process":0,"type":"done","f":"txn"}`), &op))
	assert.Error(t, decodeOp([]byte(`{"index":1,"process":0,"type":"ok"}`), &op))
}

// Checking a file as it streams gives the verdict of checking it whole.
func TestCheckFile(t *testing.T) {
	for _, la := range []bool{true, false} {
		m := RWRegister
		if la {
			m = ListAppend
		}
		h := txnsim.History(rand.New(rand.NewSource(5)), txnsim.Config{ListAppend: la, Clients: 8, Total: 3000, InfoRate: 0.05, FailRate: 0.05})
		c := New(Options{Model: m})
		res, err := c.CheckFile(context.Background(), writeHistory(t, h))
		require.NoError(t, err)
		assert.Equal(t, harness.Valid, res.Validity, res.Summary)
		// Broken: a read that misses a completed append.
		if !la {
			continue
		}
		b := newHist()
		b.txn(0, harness.OK, app("x", "1")).txn(1, harness.OK, rl("x"))
		res, err = c.CheckFile(context.Background(), writeHistory(t, b.h))
		require.NoError(t, err)
		assert.Equal(t, harness.Invalid, res.Validity)
		require.NotEmpty(t, res.Anomalies)
		assert.Equal(t, []harness.Mop{{F: harness.MRead, Key: "x", List: []string{}}}, res.Anomalies[0].Ops[1].Txn, "ops rebuilt from what the checker kept")
	}
	// Bad input names the line.
	b := newHist()
	b.txn(0, harness.OK, w("x", "1"))
	_, err := New(Options{Model: ListAppend}).CheckFile(context.Background(), writeHistory(t, b.h))
	var ie *InputError
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, err.Error(), "history.jsonl:1: op 0 (process 0): micro-op [w x 1]")
	p := writeHistory(t, b.h)
	require.NoError(t, os.WriteFile(p, []byte("{\"index\":0,\n"), 0o644))
	_, err = New(Options{Model: ListAppend}).CheckFile(context.Background(), p)
	var se *harness.SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Line)
}

// Streaming a file judges small random histories, valid and not, as
// checking them whole does.
func TestCheckFileAgrees(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for i := 0; i < 300; i++ {
		m := ListAppend
		if i%2 == 1 {
			m = RWRegister
		}
		h := simulate(rng, m)
		c := New(Options{Model: m})
		whole := c.Check(context.Background(), harness.CheckInput{History: h})
		streamed, err := c.CheckFile(context.Background(), writeHistory(t, h))
		require.NoError(t, err)
		require.Equal(t, whole.Validity, streamed.Validity, whole.Summary)
		require.Equal(t, whole.Summary, streamed.Summary)
		require.Equal(t, len(whole.Anomalies), len(streamed.Anomalies))
		for j := range whole.Anomalies {
			require.Equal(t, whole.Anomalies[j].Explanation, streamed.Anomalies[j].Explanation)
		}
	}
}

// Whatever the line reader accepts, it reads as encoding/json does.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"index":3,"process":1,"type":"ok","f":"txn","txn":[["append","x","4"],["r","x",["1","4"]],["r","y",null]],"time":99,"node":"n1"}`,
		`{"index":0,"process":"nemesis","type":"info","f":"start-kill","value":"n1 killed","time":5}`,
		`{"index":1,"process":2,"type":"fail","f":"cas","key":"k","value":"2","from":"1","time":7,"error":"timeout"}`,
		`{"index":1,"process":0,"type":"ok","f":"txn","txn":[["r","3",[1,2]],["append",3,4.5e3]],"time":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { parsedAsJSON(t, b) })
}
