package jepsen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

const casHistory = `{:process 0, :type :invoke, :f :write, :value 3, :time 10, :index 0}
{:process 1, :type :invoke, :f :read, :value nil, :time 11, :index 1}
{:process 0, :type :ok, :f :write, :value 3, :time 20, :index 2}
{:process 1, :type :ok, :f :read, :value 3, :time 21, :index 3}
{:process 0, :type :invoke, :f :cas, :value [3 4], :time 30, :index 4}
{:process 0, :type :fail, :f :cas, :value [3 4], :time 31, :index 5, :error :timed-out}
{:process :nemesis, :type :info, :f :start-partition, :value [:isolated {"n1" #{"n2"}}], :time 32, :index 6}
{:process 2, :type :invoke, :f :write, :value "x", :time 40, :index 7}
{:process 2, :type :info, :f :write, :value "x", :time 50, :index 8}
`

func TestDecodeEDNLines(t *testing.T) {
	h, err := Decode(strings.NewReader(casHistory), "h.edn", "", CASRegister)
	require.NoError(t, err)
	require.Len(t, h, 9)
	assert.Equal(t, harness.Invoke, h[0].Type)
	assert.Equal(t, "3", *h[0].Value)
	assert.Nil(t, h[1].Value)
	assert.Equal(t, "3", *h[3].Value)
	assert.Equal(t, "3", *h[4].From)
	assert.Equal(t, "4", *h[4].Value)
	assert.Equal(t, harness.Fail, h[5].Type)
	assert.Equal(t, ":timed-out", h[5].Error)
	assert.True(t, h[6].IsNemesis())
	assert.Equal(t, "start-partition", h[6].F)
	assert.Equal(t, "x", *h[7].Value)
	assert.Equal(t, harness.Info, h[8].Type)
	assert.Equal(t, int64(50), h[8].Time)
}

func TestDecodeVectorAndIndependent(t *testing.T) {
	in := `[{:process 0, :type :invoke, :f :write, :value [:k1 1]}
{:process 0, :type :ok, :f :write, :value [:k1 1]}
{:process 1, :type :invoke, :f :cas, :value [:k2 [1 2]]}
{:process 1, :type :fail, :f :cas, :value [:k2 [1 2]]}]`
	h, err := Decode(strings.NewReader(in), "v.edn", FormatEDN, CASRegister)
	require.NoError(t, err)
	require.Len(t, h, 4)
	assert.Equal(t, ":k1", h[0].Key)
	assert.Equal(t, "1", *h[0].Value)
	assert.Equal(t, ":k2", h[2].Key)
	assert.Equal(t, "1", *h[2].From)
	assert.Equal(t, "2", *h[2].Value)
}

func TestDecodeJepsenLog(t *testing.T) {
	in := "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n" +
		"INFO  jepsen.core - something else\n" +
		"INFO  jepsen.util - 0\t:ok\t:read\t2\n" +
		"INFO  jepsen.util - 1\t:invoke\t:cas\t[2 4]\n" +
		"INFO  jepsen.util - 1\t:fail\t:cas\t[2 4]\n" +
		"INFO  jepsen.util - 2\t:invoke\t:read\tnil\n" +
		"INFO  jepsen.util - 2\t:fail\t:read\t:timed-out\n"
	h, err := Decode(strings.NewReader(in), "etcd.log", "", CASRegister)
	require.NoError(t, err)
	require.Len(t, h, 6)
	assert.Equal(t, "2", *h[1].Value)
	assert.Equal(t, harness.Fail, h[3].Type)
	assert.Equal(t, ":timed-out", h[5].Error)
	assert.Nil(t, h[5].Value)
}

func TestDecodeSetCounterTxn(t *testing.T) {
	set := `{:process 0, :type :invoke, :f :add, :value 1}
{:process 0, :type :ok, :f :add, :value 1}
{:process 0, :type :invoke, :f :read, :value nil}
{:process 0, :type :ok, :f :read, :value #{3 1}}`
	h, err := Decode(strings.NewReader(set), "s.edn", "", Set)
	require.NoError(t, err)
	assert.Equal(t, `["1","3"]`, *h[3].Value)

	txn := `{:process 0, :type :invoke, :f :txn, :value [[:r :x nil] [:w :y 2]]}
{:process 0, :type :ok, :f :txn, :value [[:r :x 1] [:w :y 2]]}`
	h, err = Decode(strings.NewReader(txn), "t.edn", "", MultiRegister)
	require.NoError(t, err)
	ops, err := DecodeTxn(*h[1].Value)
	require.NoError(t, err)
	require.Len(t, ops, 2)
	assert.Equal(t, MicroOp{F: "r", Key: ":x", Value: harness.Str("1")}, ops[0])
}

func TestMalformedNamesTheLine(t *testing.T) {
	in := "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value [1 2\n"
	_, err := Decode(strings.NewReader(in), "bad.edn", "", CASRegister)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 2, e.Line)
	assert.Contains(t, err.Error(), "bad.edn:2:")

	in = "{:process 0, :type :begin, :f :read, :value nil}\n"
	_, err = Decode(strings.NewReader(in), "bad.edn", "", CASRegister)
	require.ErrorAs(t, err, &e)
	assert.Contains(t, err.Error(), ":type :begin is not one of")

	_, err = Decode(strings.NewReader("hello world\n"), "x.txt", "", CASRegister)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "neither EDN")
}

func TestExportRoundTrip(t *testing.T) {
	h := harness.History{
		{Index: 0, Process: 0, Type: harness.Invoke, F: "write", Key: "k1", Value: harness.Str("7"), Time: 5},
		{Index: 1, Process: 1, Type: harness.Invoke, F: "cas", Key: "k2", From: harness.Str("a\"b"), Value: harness.Str("<script>"), Time: 6},
		{Index: 2, Process: 0, Type: harness.OK, F: "write", Key: "k1", Value: harness.Str("7"), Time: 9, Node: "n1"},
		{Index: 3, Process: harness.NemesisProcess, Type: harness.OK, F: "start-partition", Value: harness.Str("n1 drops {n2}"), Time: 10},
		{Index: 4, Process: 1, Type: harness.Info, F: "cas", Key: "k2", From: harness.Str("a\"b"), Value: harness.Str("<script>"), Time: 11, Error: "timeout"},
		{Index: 5, Process: 2, Type: harness.Invoke, F: "read", Key: "k1", Time: 12},
		{Index: 6, Process: 2, Type: harness.OK, F: "read", Key: "k1", Time: 13},
	}
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, h))
	back, err := Decode(&buf, "export.edn", FormatEDN, CASRegister)
	require.NoError(t, err, buf.String())
	require.Len(t, back, len(h))
	for i := range h {
		want := h[i]
		if want.IsNemesis() {
			want.Type = harness.Info
		}
		assert.Equal(t, want, back[i], "op %d", i)
	}
}

// A log whose lines start with "[" is still a log; a vector is still EDN.
func TestDetectBracketedLog(t *testing.T) {
	f, err := Detect([]byte("[main] INFO jepsen.core - setup\n[worker 0] INFO jepsen.util - 0\t:invoke\t:read\tnil\n"))
	require.NoError(t, err)
	assert.Equal(t, FormatLog, f)
	f, err = Detect([]byte("; comment\n[{:process 0, :type :invoke, :f :read, :value nil}]"))
	require.NoError(t, err)
	assert.Equal(t, FormatEDN, f)
	_, err = Detect([]byte(" ; only a comment\n#_{:a 1}\n"))
	assert.EqualError(t, err, "empty history")
}
