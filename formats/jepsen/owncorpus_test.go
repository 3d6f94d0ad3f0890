package jepsen

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// header is each corpus file's first line: its label, model and --initial.
var header = regexp.MustCompile(`^;; label: (valid|invalid|error "([^"]*)") model: (\S+)(?: initial: (.*))?$`)

type labelled struct {
	path, label, wantErr, initial string
	model                         Model
}

func corpus(t testing.TB) []labelled {
	paths, err := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	require.NoError(t, err)
	var out []labelled
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		first, _, _ := bytes.Cut(data, []byte("\n"))
		m := header.FindStringSubmatch(string(first))
		require.NotNil(t, m, "%s: first line must be the label", p)
		label := m[1]
		if m[2] != "" {
			label = "error"
		}
		out = append(out, labelled{path: p, label: label, wantErr: m[2], model: Model(m[3]), initial: m[4]})
	}
	return out
}

// judge decodes and checks a history as gauntlet check --format jepsen does.
func judge(data []byte, name string, model Model, initial string, strict bool) (harness.Validity, []harness.Result, error) {
	h, err := Decode(bytes.NewReader(data), name, "", model)
	if err != nil {
		return "", nil, err
	}
	var init Initial
	if initial != "" {
		if init, err = ParseInitial(initial, model); err != nil {
			return "", nil, err
		}
	}
	o := CheckOptions{Model: model, Initial: init.Resolve(h), Strict: strict, Timeout: corpusTimeout}
	results := harness.Check(context.Background(), Checkers(o), harness.CheckInput{History: h}, o.Timeout, nil)
	return Verdict(results, strict), results, nil
}

// TestOwnCorpus: every hand-written history gets its label.
func TestOwnCorpus(t *testing.T) {
	files := corpus(t)
	require.GreaterOrEqual(t, len(files), 40)
	counts := map[string]int{}
	for _, f := range files {
		counts[f.label]++
		data, err := os.ReadFile(f.path)
		require.NoError(t, err)
		got, results, err := judge(data, f.path, f.model, f.initial, false)
		if f.label == "error" {
			var e *Error
			if assert.ErrorAs(t, err, &e, f.path) {
				assert.Contains(t, err.Error(), f.wantErr, f.path)
			}
			continue
		}
		if !assert.NoError(t, err, f.path) {
			continue
		}
		assert.Equal(t, harness.Validity(f.label), got, "%s: %v", f.path, results)
	}
	t.Logf("%d files: %v", len(files), counts)
	assert.GreaterOrEqual(t, counts["valid"], 15)
	assert.GreaterOrEqual(t, counts["invalid"], 15)
}
