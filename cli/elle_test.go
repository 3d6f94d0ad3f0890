package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Read skew in Elle's list-append form: T0 appends to keys 0 and 1, T1 sees
// its append to 1 and not to 0.
const gSingleEDN = `{:type :invoke, :f :txn, :value [[:append 0 1] [:append 1 1]], :process 0, :time 1000, :index 0}
{:type :invoke, :f :txn, :value [[:r 0 nil] [:r 1 nil]], :process 1, :time 2000, :index 1}
{:type :ok, :f :txn, :value [[:append 0 1] [:append 1 1]], :process 0, :time 3000, :index 2}
{:type :ok, :f :txn, :value [[:r 0 nil] [:r 1 [1]]], :process 1, :time 4000, :index 3}
`

func TestCheckElle(t *testing.T) {
	code, out, errOut := checkFile(t, gSingleEDN, "--model", "list-append")
	require.Equal(t, harness.ExitInvalid, code, out+errOut)
	assert.Contains(t, out, "first anomaly (isolation): G-single")
	assert.Contains(t, out, "rules out snapshot-isolation and every stronger model")

	// Read skew is allowed under read committed.
	code, out, _ = checkFile(t, gSingleEDN, "--model", "list-append", "--consistency", "read-committed")
	require.Equal(t, harness.ExitValid, code, out)
	assert.Contains(t, out, "consistency read-committed")
	// The import remembers its consistency model.
	m := regexp.MustCompile(`results: (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	e, stdout, _ := testEnv()
	assert.Equal(t, harness.ExitValid, dispatch(context.Background(), e, []string{"check", m[1]}), stdout.String())

	// Exported and imported again: the same transactions, the same verdict.
	e, stdout, stderr := testEnv()
	require.Equal(t, 0, dispatch(context.Background(), e, []string{"export", "--format", "jepsen", m[1]}), stderr.String())
	assert.Contains(t, stdout.String(), ":f :txn, :value [[:r 0 []] [:r 1 [1]]]")
	code, out, _ = checkFile(t, stdout.String(), "--model", "list-append")
	assert.Equal(t, harness.ExitInvalid, code, out)
}

// Bad input exits 64 naming the op and its line.
func TestCheckElleBadInput(t *testing.T) {
	for _, c := range []struct {
		model, mop, want string
	}{
		{"list-append", "[:w 0 1]", "h.edn:4:1: op 4 (process 1, :ok :txn): micro-op [:w 0 1]: the list-append model has only append and r"},
		{"list-append", "[:r 0 5]", "h.edn:4:1: op 4 (process 1, :ok :txn): micro-op [:r 0 5]: a read of a list that is not a list"},
		{"rw-register", "[:append 0 1]", "h.edn:4:1: op 4 (process 1, :ok :txn): micro-op [:append 0 1]: the rw-register model has only w and r"},
	} {
		h := "{:type :invoke, :f :txn, :value [[:r 0 nil]], :process 0}\n{:type :ok, :f :txn, :value [[:r 0 nil]], :process 0}\n" +
			"{:type :invoke, :f :txn, :value [[:r 0 nil]], :process 1}\n{:type :ok, :f :txn, :value [" + c.mop + "], :process 1}\n"
		code, _, errOut := checkFile(t, h, "--model", c.model)
		assert.Equal(t, harness.ExitUsage, code, errOut)
		assert.Contains(t, errOut, c.want)
	}
	code, _, errOut := checkFile(t, gSingleEDN, "--model", "list-append", "--consistency", "linearizable")
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, errOut, "want one of read-uncommitted, read-committed")
	code, _, errOut = checkFile(t, staleEDN, "--model", "cas-register", "--consistency", "serializable")
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, errOut, "--consistency applies to --model list-append and rw-register")
	// Transactions given to a register model.
	code, _, errOut = checkFile(t, gSingleEDN, "--model", "cas-register")
	assert.Equal(t, harness.ExitUsage, code)
	assert.Contains(t, errOut, "h.edn:1:1: op 1 (process 0, :invoke :txn): :f :txn is not an operation of the cas-register model")
}

// A run of the register workload whose history holds transactions is
// refused by the register checker: exit 64, naming the op and its line.
func TestCheckRefusesTxnsForRegisters(t *testing.T) {
	dir := t.TempDir()
	tst := harness.Test{System: "raft", Deploy: "local", Workload: "register", Seed: 1}.WithDefaults()
	b, err := json.Marshal(tst)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.ConfigFile), b, 0o644))
	inv := harness.Op{Index: 0, Process: 0, Type: harness.Invoke, F: harness.FRead, Key: "r"}
	ok := inv.Read(harness.Str("1"))
	ok.Index = 1
	tx := harness.Op{Index: 2, Process: 1, Type: harness.Invoke, F: harness.FTxn, Txn: []harness.Mop{{F: harness.MAppend, Key: "r", Value: harness.Str("2")}}}
	var lines []string
	for _, op := range []harness.Op{inv, ok, tx} {
		l, err := op.MarshalLine()
		require.NoError(t, err)
		lines = append(lines, string(l))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, harness.HistoryFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	e, _, stderr := testEnv()
	assert.Equal(t, harness.ExitUsage, dispatch(context.Background(), e, []string{"check", dir}))
	assert.Contains(t, stderr.String(), "history.jsonl:3: op 2 (1 invoke txn [append r 2]): a transaction, but the register checker judges")
}
