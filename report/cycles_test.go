package report

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// An isolation anomaly's cycle is drawn as well-formed SVG in which user
// text (keys, values) is escaped.
func TestCycleGraphs(t *testing.T) {
	key := `<script>alert("x")</script>`
	mop := func(f, k, v string, list ...string) harness.Mop {
		m := harness.Mop{F: f, Key: k}
		if f == harness.MRead {
			m.List = append([]string{}, list...)
		} else {
			m.Value = harness.Str(v)
		}
		return m
	}
	t0 := []harness.Mop{mop(harness.MAppend, key, "1"), mop(harness.MAppend, "y", "1")}
	t1 := []harness.Mop{mop(harness.MRead, key, ""), mop(harness.MRead, "y", "", "1")}
	h := harness.History{
		{Index: 0, Process: 0, Type: harness.Invoke, F: harness.FTxn, Txn: t0},
		{Index: 1, Process: 1, Type: harness.Invoke, F: harness.FTxn, Txn: []harness.Mop{{F: harness.MRead, Key: key}, {F: harness.MRead, Key: "y"}}},
		{Index: 2, Process: 0, Type: harness.OK, F: harness.FTxn, Txn: t0, Time: 1},
		{Index: 3, Process: 1, Type: harness.OK, F: harness.FTxn, Txn: t1, Time: 2},
	}
	res := isolation.New(isolation.Options{Model: isolation.ListAppend}).Check(context.Background(), harness.CheckInput{History: h})
	require.Equal(t, harness.Invalid, res.Validity, res.Summary)
	graphs := cycleGraphs(res, 0)
	require.Contains(t, graphs, 0)
	svg := string(graphs[0])
	assert.NotContains(t, svg, "<script>")
	assert.Contains(t, svg, "&lt;script&gt;")
	assert.Contains(t, svg, `marker-end="url(#c0-0-rw)"`)
	assert.Contains(t, svg, `href="#op-2"`, "nodes link to their ops in the timeline")
	d := xml.NewDecoder(strings.NewReader("<figure>" + svg + "</figure>"))
	for {
		_, err := d.Token()
		if err != nil {
			assert.Equal(t, "EOF", err.Error(), "well-formed")
			break
		}
	}
	assert.Nil(t, cycleGraphs(harness.Result{Checker: "linearizable"}, 0))
}
