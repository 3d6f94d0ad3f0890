package jepsen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Elle's histories, one file per anomaly class (testdata/elle/MODEL-CLASS.edn,
// MODEL-valid-*.edn for valid ones): each is judged by the isolation checker,
// which must name the class.
func TestElleCorpus(t *testing.T) {
	paths, err := filepath.Glob("testdata/elle/*.edn")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 30)
	seen := map[string]bool{}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".edn")
		model := ListAppend
		if strings.HasPrefix(name, string(RWRegister)) {
			model = RWRegister
		}
		class := strings.TrimPrefix(name, string(model)+"-")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(p)
			require.NoError(t, err)
			defer f.Close()
			h, err := Decode(f, p, "", model)
			require.NoError(t, err)
			res := harness.Check(context.Background(), Checkers(CheckOptions{Model: model}), harness.CheckInput{History: h}, 10*time.Second, nil)
			require.Equal(t, "isolation", res[0].Checker)
			r := res[0]
			if strings.HasPrefix(class, "valid") {
				assert.Equal(t, harness.Valid, r.Validity, r.Summary)
				return
			}
			assert.Equal(t, harness.Invalid, r.Validity, r.Summary)
			var d isolation.Details
			require.NoError(t, json.Unmarshal(r.Details, &d))
			assert.Contains(t, d.Counts, class, r.Summary)
			seen[class] = true
		})
	}
	// Every class of the checker has a file.
	for _, c := range []string{"G0", "G1a", "G1b", "G1c", "G-single", "G-nonadjacent", "G2-item", "lost-update",
		"internal", "future-read", "incompatible-order", "duplicate-elements", "unwritten-value", "dirty-update",
		"cyclic-versions", "G-single-process", "G-single-realtime", "G1c-process", "G0-realtime"} {
		assert.True(t, seen[c], "no file for %s", c)
	}
}

// Transactions survive export and import.
func TestTxnRoundTrip(t *testing.T) {
	for _, p := range []string{"testdata/elle/list-append-G-single.edn", "testdata/elle/rw-register-lost-update.edn", "testdata/elle/list-append-valid-info.edn"} {
		model := ListAppend
		if strings.Contains(p, "rw-register") {
			model = RWRegister
		}
		f, err := os.Open(p)
		require.NoError(t, err)
		h, err := Decode(f, p, "", model)
		f.Close()
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, Encode(&buf, h))
		assert.Contains(t, buf.String(), ":f :txn, :value [[")
		back, err := Decode(&buf, "export", "", model)
		require.NoError(t, err)
		require.Len(t, back, len(h))
		for i := range h {
			assert.Equal(t, h[i].Txn, back[i].Txn, "op %d", i)
			assert.Equal(t, h[i].Type, back[i].Type)
		}
	}
}

// What the models cannot judge is refused, naming the op and its line.
func TestTxnRefusals(t *testing.T) {
	for _, c := range []struct {
		model Model
		op    string
		want  string
	}{
		{ListAppend, `[[:w 0 1]]`, "the list-append model has only append and r"},
		{ListAppend, `[[:r 0 5]]`, "a read of a list that is not a list"},
		{RWRegister, `[[:append 0 1]]`, "the rw-register model has only w and r"},
		{RWRegister, `[[:r 0 [1 2]]]`, "not a list"},
		{ListAppend, `[[:append 0]]`, "want [f k v]"},
		{ListAppend, `5`, ":txn wants :value"},
	} {
		first := "[[:append 0 1]]"
		if c.model == RWRegister {
			first = "[[:w 0 1]]"
		}
		in := "{:type :invoke, :f :txn, :value " + first + ", :process 0}\n" +
			"{:type :ok, :f :txn, :value " + first + ", :process 0}\n" +
			"{:type :invoke, :f :txn, :value nil, :process 1}\n" +
			"{:type :ok, :f :txn, :value " + c.op + ", :process 1}\n"
		_, err := Decode(strings.NewReader(in), "h.edn", "", c.model)
		require.Error(t, err, c.op)
		assert.Contains(t, err.Error(), "h.edn:4:1: op 4 (process 1, :ok :txn)")
		assert.Contains(t, err.Error(), c.want)
	}
	_, err := Decode(strings.NewReader("{:type :invoke, :f :read, :value nil, :process 0}\n"), "h.edn", "", ListAppend)
	assert.ErrorContains(t, err, ":f :read is not an operation of the list-append model (txn)")
}
