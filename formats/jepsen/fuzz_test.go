package jepsen

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzReadHistory: no input makes the reader panic or hang. Without -fuzz,
// go test runs the seed corpus only (every labelled file, each generated
// history in every shape, and tricky fragments), which takes a second.
// A longer search: go test ./formats/jepsen -run '^$' -fuzz FuzzReadHistory -fuzztime 60s
func FuzzReadHistory(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "corpus", "*"))
	require.NoError(f, err)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, g := range generatedCorpus(2, 12) {
		for _, render := range shapes {
			f.Add([]byte(render(g.ops)))
		}
	}
	for _, s := range []string{"", "[", "(", "{", "#", "#_", "#{", "##", "#:", "#:a{", "^", "\\", "\"\\u12", "[1 2)", "{:a}", "1/0",
		"0x", "36rZZ", "99r1", "#inst", "#object[", ";", "#!", "\xff\xfe", "{[1] 2 [1] 3}", "#{##NaN ##NaN}", "9223372036854775808",
		"{:process 0 :type :ok :f :read :value 1N}", "{:process 99999999999999999999 :type :invoke :f :read}",
		"INFO jepsen.util - 0 :invoke :read", "0\t:ok\t:read\t[1 2", "{:process 0, :type :invoke, :f :txn, :value [[:r]]}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		_, _ = Decode(bytes.NewReader(data), "fuzz", "", CASRegister)
		// Read once in each format, then interpret under every model.
		for _, read := range []func([]byte, string) ([]rawOp, error){readEDN, readLog} {
			if raws, err := read(data, "fuzz"); err == nil {
				for _, m := range Models() {
					_, _ = convert(raws, "fuzz", m)
				}
			}
		}
		_, _ = ParseInitial(string(data), CASRegister)
		_, _ = ParseInitial(string(data), MultiRegister)
		// The reader always moves on: at most one form per input byte.
		rd := newReader(data)
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("reader loops on %q", data)
			}
			if _, _, err := rd.next(); err != nil {
				break
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%d bytes took %s", len(data), d)
		}
	})
}
