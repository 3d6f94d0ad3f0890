package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// The report frames the page the checker drew during the run: no second
// search (the history given here is empty, so a redraw would fail).
func TestLinearizationViewUsesTheCheckersPage(t *testing.T) {
	s := harness.Str
	h := harness.History{
		{Process: 0, Type: harness.Invoke, F: harness.FWrite, Key: "k", Value: s("1"), Time: 0},
		{Process: 0, Type: harness.OK, F: harness.FWrite, Key: "k", Value: s("1"), Time: 1e9},
		{Process: 0, Type: harness.Invoke, F: harness.FWrite, Key: "k", Value: s("2"), Time: 2e9},
		{Process: 0, Type: harness.OK, F: harness.FWrite, Key: "k", Value: s("2"), Time: 3e9},
		{Process: 1, Type: harness.Invoke, F: harness.FRead, Key: "k", Time: 4e9},
		{Process: 1, Type: harness.OK, F: harness.FRead, Key: "k", Value: s("1"), Time: 5e9},
	}
	for i := range h {
		h[i].Index = i
	}
	dir := t.TempDir()
	res := linearizable.New(linearizable.Options{}).Check(context.Background(), harness.CheckInput{History: h, Dir: dir})
	require.Equal(t, harness.Invalid, res.Validity)
	stored := storedView(dir, res, "k")
	require.NotEmpty(t, stored)
	page, err := os.ReadFile(stored)
	require.NoError(t, err)

	all, _ := ops(h)
	v, err := linearizationView("lin-0", nil, all, "k", nil, stored)
	require.NoError(t, err)
	require.NotNil(t, v)
	assert.Equal(t, string(page), v.HTML)
	assert.Contains(t, v.HTML, "read k → 1")

	assert.Empty(t, storedView(dir, res, "other"), "a key the checker says nothing of")
	assert.Empty(t, storedView(filepath.Join(dir, "elsewhere"), res, "k"), "pages outside the run directory are not read")
	res.Details = []byte(`{"undrawn":["k"]}`)
	assert.Equal(t, noView, storedView(dir, res, "k"), "a key the checker chose not to draw")
	v, err = linearizationView("lin-0", h, all, "k", nil, noView)
	require.NoError(t, err)
	assert.Nil(t, v, "no second search")
}

// The view is chosen by the result's View, not by its checker's name; a
// results.json from before results named their views (the register
// checker then called itself "linearizable") still gets its pages.
func TestLinearizationViewIsChosenByView(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "k.html"), []byte("<p>k</p>"), 0o644))
	details := []byte(`{"drawn":["k"],"views":["k.html"]}`)
	now := harness.Result{Checker: linearizable.Name, View: linearizable.View, Details: details}
	assert.Equal(t, filepath.Join(dir, "k.html"), storedView(dir, now, "k"))
	old := harness.Result{Checker: "linearizable", Details: details}
	assert.Equal(t, filepath.Join(dir, "k.html"), storedView(dir, old, "k"), "an old results.json")
	other := harness.Result{Checker: "mutex", Details: details}
	assert.Empty(t, storedView(dir, other, "k"), "another checker's details are not pages")
}
