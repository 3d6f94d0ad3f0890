package multiregister

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

func txn(ops ...MicroOp) *string {
	b, _ := json.Marshal(ops)
	return h.Str(string(b))
}

func r(k string, v *string) MicroOp { return MicroOp{F: "r", Key: k, Value: v} }
func w(k, v string) MicroOp         { return MicroOp{F: "w", Key: k, Value: h.Str(v)} }

func TestMultiRegister(t *testing.T) {
	// p0 writes x=1,y=1 atomically; p1 reads x and y concurrently.
	hist := func(x, y *string) h.History {
		return h.History{
			{Index: 0, Process: 0, Type: h.Invoke, F: "txn", Value: txn(w("x", "1"), w("y", "1")), Time: 1},
			{Index: 1, Process: 1, Type: h.Invoke, F: "txn", Value: txn(r("x", nil), r("y", nil)), Time: 2},
			{Index: 2, Process: 0, Type: h.OK, F: "txn", Value: txn(w("x", "1"), w("y", "1")), Time: 3},
			{Index: 3, Process: 1, Type: h.OK, F: "txn", Value: txn(r("x", x), r("y", y)), Time: 4},
		}
	}
	c := New(5 * time.Second)
	assert.Equal(t, h.Valid, c.Check(context.Background(), h.CheckInput{History: hist(h.Str("1"), h.Str("1"))}).Validity)
	assert.Equal(t, h.Valid, c.Check(context.Background(), h.CheckInput{History: hist(nil, nil)}).Validity)
	// Half of an atomic write: no linearization.
	assert.Equal(t, h.Invalid, c.Check(context.Background(), h.CheckInput{History: hist(h.Str("1"), nil)}).Validity)
}

// Knossos's tests start the registers at {:x 0 :y 0} and read nil as "did
// not see": both change verdicts.
func TestMultiRegisterInitialAndNilReads(t *testing.T) {
	read := func(x, y *string) h.History {
		return h.History{
			{Index: 0, Process: 0, Type: h.Invoke, F: "txn", Value: txn(r("x", nil), r("y", nil)), Time: 1},
			{Index: 1, Process: 0, Type: h.OK, F: "txn", Value: txn(r("x", x), r("y", y)), Time: 2},
		}
	}
	absent := New(5 * time.Second)
	zero := Checker{Timeout: 5 * time.Second, Initial: map[string]string{"x": "0", "y": "0"}}
	zeroNil := Checker{Timeout: 5 * time.Second, Initial: map[string]string{"x": "0", "y": "0"}, NilReadsUnknown: true}
	check := func(c Checker, hh h.History) h.Validity {
		return c.Check(context.Background(), h.CheckInput{History: hh}).Validity
	}
	assert.Equal(t, h.Invalid, check(absent, read(h.Str("0"), h.Str("0"))), "0 was never written and the registers start absent")
	assert.Equal(t, h.Valid, check(zero, read(h.Str("0"), h.Str("0"))))
	assert.Equal(t, h.Invalid, check(zero, read(h.Str("0"), nil)), "nil is absent without NilReadsUnknown")
	assert.Equal(t, h.Valid, check(zeroNil, read(h.Str("0"), nil)))
	assert.Equal(t, h.Invalid, check(zeroNil, read(h.Str("1"), nil)))
}

// The anomaly names the txn no order explains and the registers it found.
func TestMultiRegisterExplains(t *testing.T) {
	hh := h.History{
		{Index: 0, Process: 0, Type: h.Invoke, F: "txn", Value: txn(w("x", "1"), w("y", "1")), Time: 1},
		{Index: 1, Process: 0, Type: h.OK, F: "txn", Value: txn(w("x", "1"), w("y", "1")), Time: 2},
		{Index: 2, Process: 1, Type: h.Invoke, F: "txn", Value: txn(r("x", nil), r("y", nil)), Time: 3},
		{Index: 3, Process: 1, Type: h.OK, F: "txn", Value: txn(r("x", h.Str("1")), r("y", nil)), Time: 4},
	}
	res := New(5*time.Second).Check(context.Background(), h.CheckInput{History: hh})
	assert.Equal(t, h.Invalid, res.Validity)
	if assert.Len(t, res.Anomalies, 1) {
		assert.Equal(t, "txn [r x 1, r y nil] by process 1 succeeded, but no order explains it: the 1 transactions that can be ordered before it leave the registers {x=1, y=1}", res.Anomalies[0].Explanation)
		assert.Equal(t, int64(4), res.Anomalies[0].Time)
	}
}
