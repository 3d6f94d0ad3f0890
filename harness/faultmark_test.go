package harness

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A fault op says what it does in a typed field; histories without it
// (older runs, Jepsen's) are read from F, here and nowhere else.
func TestFaultMark(t *testing.T) {
	nem := func(f string, m *FaultMark) Op { return Op{Process: NemesisProcess, Type: Invoke, F: f, Fault: m} }
	for _, c := range []struct {
		op   Op
		want FaultMark
		ok   bool
	}{
		{nem("start-partition", &FaultMark{Package: "partition"}), FaultMark{Package: "partition"}, true},
		{nem("whatever", &FaultMark{Package: "kill", Stop: true}), FaultMark{Package: "kill", Stop: true}, true},
		{nem("start-kill-leader", nil), FaultMark{Package: "kill-leader"}, true},
		{nem("stop-kill-leader", nil), FaultMark{Package: "kill-leader", Stop: true}, true},
		{nem("start", nil), FaultMark{Package: "nemesis"}, true},
		{nem("stop", nil), FaultMark{Package: "nemesis", Stop: true}, true},
		{nem("heal", nil), FaultMark{Stop: true}, true},
		{nem("stop-all", nil), FaultMark{Stop: true}, true},
		{nem("start-", nil), FaultMark{}, false},
		{nem("bump-clock", nil), FaultMark{}, false},
		{Op{Process: 3, Type: Invoke, F: "start-partition"}, FaultMark{}, false},
	} {
		got, ok := c.op.FaultMark()
		assert.Equal(t, c.ok, ok, "%+v", c.op)
		assert.Equal(t, c.want, got, "%+v", c.op)
	}
	// On disk, beside the F Jepsen's tools read.
	line, err := nem("start-partition", &FaultMark{Package: "partition"}).MarshalLine()
	require.NoError(t, err)
	assert.Contains(t, string(line), `"f":"start-partition"`)
	assert.Contains(t, string(line), `"fault":{"package":"partition"}`)
	var back Op
	require.NoError(t, json.Unmarshal(line, &back))
	m, ok := back.FaultMark()
	assert.True(t, ok)
	assert.Equal(t, FaultMark{Package: "partition"}, m)
}
