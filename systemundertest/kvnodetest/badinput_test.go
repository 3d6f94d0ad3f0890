package kvnodetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadInputExits64(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	addr := freePort(t)
	peers := "n1=" + addr + ",n2=127.0.0.1:1,n3=127.0.0.1:2"
	ok := []string{"--id", "n1", "--listen", addr, "--peers", peers, "--data", filepath.Join(dir, "d")}
	with := func(kv ...string) []string {
		out := append([]string(nil), ok...)
		for i := 0; i+1 < len(kv); i += 2 {
			for j := 0; j+1 < len(out); j += 2 {
				if out[j] == kv[i] {
					out[j+1] = kv[i+1]
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", append([]string{"--frobnicate"}, ok...), "flag provided but not defined: -frobnicate"},
		{"peer without address", with("--peers", "n1="+addr+",n2"), "want id=host:port"},
		{"peer address without port", with("--peers", "n1="+addr+",n2=localhost"), "want id=host:port"},
		{"duplicate peer", with("--peers", "n1="+addr+",n1=127.0.0.1:3"), "appears twice"},
		{"id not in peers", with("--id", "n9"), `--id "n9" is not in --peers`},
		{"data dir is a file", with("--data", file), "data directory"},
		{"unknown mode", append([]string{"--mode", "paxos"}, ok...), "want raft or quorum"},
		{"unknown bug", append([]string{"--bug", "no-such-bug"}, ok...), "not in the raft catalog"},
		{"no peers", with("--peers", ""), "--peers is required"},
		{"no pipeline", append([]string{"--pipeline", "0"}, ok...), "--pipeline 0: want 1 to 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runKvnode(t, 10*time.Second, tc.args...)
			assert.Equal(t, 64, code, out)
			assert.Contains(t, out, tc.want)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "one line: %q", out)
		})
	}
}

func TestListBugs(t *testing.T) {
	code, out := runKvnode(t, 10*time.Second, "--list-bugs")
	require.Equal(t, 0, code, out)
	for _, bug := range []string{"stale-read", "ack-before-commit", "commit-old-term", "forget-vote", "lease-no-bound"} {
		assert.Contains(t, out, bug)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		assert.Regexp(t, `^\S+\s+\S.*$`, line, "name and description")
	}
}
