package harness

import (
	"encoding/json"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMopJSON(t *testing.T) {
	op := Op{Process: 2, Type: OK, F: FTxn, Txn: []Mop{
		{F: MAppend, Key: "x", Value: Str("4")},
		{F: MRead, Key: "x", List: []string{"1", "4"}},
		{F: MRead, Key: "y", List: []string{}},
		{F: MWrite, Key: "z", Value: Str("7")},
		{F: MRead, Key: "z"},
	}}
	b, err := op.MarshalLine()
	require.NoError(t, err)
	assert.Contains(t, string(b), `"txn":[["append","x","4"],["r","x",["1","4"]],["r","y",[]],["w","z","7"],["r","z",null]]`)
	var back Op
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, op, back)
	assert.True(t, back.Txn[2].IsListRead(), "an empty list read stays a list read")
	assert.False(t, back.Txn[4].IsListRead())
	assert.Equal(t, "2 ok txn [append x 4] [r x [1 4]] [r y []] [w z 7] [r z nil]", back.String())

	// Numbers, as an Elle history converted to JSON has them, read as text.
	var m Mop
	require.NoError(t, json.Unmarshal([]byte(`["r", 3, [1, 2]]`), &m))
	assert.Equal(t, Mop{F: MRead, Key: "3", List: []string{"1", "2"}}, m)
	for _, bad := range []string{`["r","x"]`, `{"f":"r"}`, `["","x",null]`, `["r",null,null]`, `["r","x",{}]`, `["r","x",[{}]]`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &m), bad)
	}
}

func TestCompleteCopiesTxn(t *testing.T) {
	inv := Op{F: FTxn, Type: Invoke, Txn: []Mop{{F: MRead, Key: "x"}}}
	done := inv.Complete(OK)
	done.Txn[0].Value = Str("1")
	assert.Nil(t, inv.Txn[0].Value, "filling a completion's reads leaves the invocation alone")
}

type needy struct{ fakeWorkload }

func (needy) Needs() []Feature { return []Feature{FeatureTxnAppend} }

type fakeWorkload struct{}

func (fakeWorkload) Name() string                   { return "list-append" }
func (fakeWorkload) Generator(*rand.Rand) Generator { return nil }
func (fakeWorkload) Checkers() []Checker            { return nil }

type offering struct {
	System
	f []Feature
}

func (o offering) Features() []Feature { return o.f }
func (o offering) Name() string        { return "s" }

func TestServes(t *testing.T) {
	assert.NoError(t, Serves(offering{}, fakeWorkload{}), "a workload of reads and writes runs anywhere")
	err := Serves(offering{}, needy{})
	require.Error(t, err)
	assert.Equal(t, `workload "list-append" needs txn-append, which system "s" does not offer (its clients perform only read, write and cas)`, err.Error())
	err = Serves(offering{f: []Feature{FeatureSet}}, needy{})
	assert.ErrorContains(t, err, "read, write, cas and set")
	assert.NoError(t, Serves(offering{f: []Feature{FeatureTxnAppend}}, needy{}))
}
