package report

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/harness"
)

func lockHistory(key string, overlap bool) harness.History {
	var h harness.History
	add := func(p harness.Process, t harness.Type, f string, v string, at int64) {
		o := harness.Op{Index: len(h), Process: p, Type: t, F: f, Key: key, Time: at * 1e8}
		if v != "" {
			o.Value = harness.Str(v)
		}
		h = append(h, o)
	}
	add(0, harness.Invoke, "acquire", "", 1)
	add(0, harness.OK, "acquire", "3", 2)
	add(0, harness.Invoke, mutex.FHold, "50", 3)
	add(0, harness.OK, mutex.FHold, "50", 4)
	second := int64(6)
	if overlap {
		second = 3
	}
	add(0, harness.Invoke, "release", "", 5)
	add(0, harness.OK, "release", "", 6)
	add(1, harness.Invoke, "acquire", "", second)
	add(1, harness.OK, "acquire", "9", second+1)
	for i := range h {
		h[i].Index = i
	}
	// Keep the history in time order.
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].Time < h[j-1].Time; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
	for i := range h {
		h[i].Index = i
	}
	return h
}

// The holds are drawn as well-formed SVG, stacked when they overlap, the
// violation's in red, user text escaped.
func TestLockViews(t *testing.T) {
	key := `<b>L</b>`
	res := mutex.New(0).Check(context.Background(), harness.CheckInput{History: lockHistory(key, true)})
	require.Equal(t, harness.Invalid, res.Validity, res.Summary)
	views := lockViews(&harness.Results{Checkers: []harness.Result{res, {Checker: "stats"}}}, 1e9, nil, nil)
	require.Len(t, views, 1)
	svg := string(views[0])
	assert.Contains(t, svg, "2 lanes")
	assert.Contains(t, svg, `<g class="hold bad">`)
	assert.Contains(t, svg, `class="guarded"`)
	assert.Contains(t, svg, "token 9")
	assert.NotContains(t, svg, "<b>")
	assert.Contains(t, svg, "&lt;b&gt;L&lt;/b&gt;")
	d := xml.NewDecoder(strings.NewReader("<figure>" + svg + "</figure>"))
	for {
		if _, err := d.Token(); err != nil {
			assert.Equal(t, "EOF", err.Error(), "well-formed")
			break
		}
	}

	res = mutex.New(0).Check(context.Background(), harness.CheckInput{History: lockHistory("L", false)})
	require.Equal(t, harness.Valid, res.Validity, res.Summary)
	views = lockViews(&harness.Results{Checkers: []harness.Result{res}}, 1e9, nil, nil)
	require.Len(t, views, 1)
	assert.Contains(t, string(views[0]), "1 lane")
	assert.NotContains(t, string(views[0]), `<g class="hold bad">`)

	assert.Empty(t, lockViews(&harness.Results{Checkers: []harness.Result{{Checker: "register"}}}, 1e9, nil, nil), "no locks, no view")
	assert.Empty(t, lockViews(nil, 1e9, nil, nil))
}
