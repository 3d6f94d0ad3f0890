package jepsen

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/appendreg"
	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// porcupineDir finds porcupine's module (pinned in go.mod), whose test_data
// is a labelled corpus nobody here wrote: Jepsen's etcd logs and kv logs.
func porcupineDir(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anishathalye/porcupine").Output()
	require.NoError(t, err, "go list porcupine")
	dir := strings.TrimSpace(string(out))
	require.DirExists(t, filepath.Join(dir, "test_data"))
	return dir
}

// labels reads the expected verdicts from porcupine's own tests.
func labels(t testing.TB, dir string, re *regexp.Regexp) map[string]bool {
	src, err := os.ReadFile(filepath.Join(dir, "porcupine_test.go"))
	require.NoError(t, err)
	out := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		out[m[1]] = m[2] == "true"
	}
	return out
}

// corpusTimeout bounds a check of one labelled log. It is not a budget: the
// labels are verdicts, and a search cut short by a loaded machine would
// answer unknown, so the bound only stops a search that would never end.
const corpusTimeout = 10 * time.Minute

func checkFile(t testing.TB, path string, model Model, initial *string) (harness.Validity, string) {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h, err := Decode(f, path, "", model)
	require.NoError(t, err)
	r := linearizable.Check(context.Background(), h, linearizable.Options{Timeout: corpusTimeout, Initial: initial})
	return r.Validity, r.Summary
}

// TestPorcupineEtcdCorpus checks every labelled etcd log (cas-register,
// starting absent) and compares with the label.
func TestPorcupineEtcdCorpus(t *testing.T) {
	dir := porcupineDir(t)
	want := labels(t, dir, regexp.MustCompile(`checkJepsen\(t, (\d+), (true|false)\)`))
	require.Len(t, want, 102)
	start := time.Now()
	linearizableCount := 0
	for num, ok := range want {
		n, _ := strconv.Atoi(num)
		path := filepath.Join(dir, "test_data", "jepsen", fmt.Sprintf("etcd_%03d.log", n))
		got, summary := checkFile(t, path, CASRegister, nil)
		expect := harness.Invalid
		if ok {
			expect = harness.Valid
			linearizableCount++
		}
		if got != expect {
			t.Errorf("etcd_%03d.log: got %s, label says %s (%s)", n, got, expect, summary)
		}
	}
	require.Equal(t, 23, linearizableCount)
	t.Logf("checked %d labelled etcd logs in %s", len(want), time.Since(start).Round(time.Millisecond))
}

// TestPorcupineKVCorpus checks porcupine's kv logs (get/put/append, keys in
// :key, registers starting empty) against the labels of porcupine's tests.
func TestPorcupineKVCorpus(t *testing.T) {
	dir := porcupineDir(t)
	want := labels(t, dir, regexp.MustCompile(`checkKv\(t, "([^"]+)", (true|false), (?:true|false)\)`))
	require.Len(t, want, 6)
	start := time.Now()
	for name, ok := range want {
		path := filepath.Join(dir, "test_data", "kv", name+".txt")
		f, err := os.Open(path)
		require.NoError(t, err)
		h, err := Decode(f, path, "", KVAppend)
		f.Close()
		require.NoError(t, err)
		r := appendreg.New(corpusTimeout).Check(context.Background(), harness.CheckInput{History: h})
		expect := harness.Invalid
		if ok {
			expect = harness.Valid
		}
		if r.Validity != expect {
			t.Errorf("%s: got %s, label says %s (%s)", name, r.Validity, expect, r.Summary)
		}
	}
	t.Logf("checked %d labelled kv logs in %s", len(want), time.Since(start).Round(time.Millisecond))
}
