package kvnodetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
)

// logFile is raft's log inside a node's data directory (see package storage).
func logFile(nd *node) string { return filepath.Join(nd.dir, "log.wal") }

func writeN(t *testing.T, addr string, prefix string, n int) {
	t.Helper()
	cl := client.New(addr, 2*time.Second)
	defer cl.Close()
	for i := range n {
		require.NoError(t, cl.Put(context.Background(), fmt.Sprintf("%s%d", prefix, i), "v"))
	}
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// TestTornLogTailIsRepaired leaves what SIGKILL mid-append leaves — a record
// cut short, then a zero-filled tail — after the last whole record of a
// follower's log. The follower must restart, repair the tail and catch up.
func TestTornLogTailIsRepaired(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	writeN(t, leader.addr, "a", 50)
	f := c.follower(leader)

	// A record header announcing 1000 payload bytes (its length checksum is
	// valid, as the storage's framing writes it), followed by only 40.
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	torn := make([]byte, 12+40)
	binary.LittleEndian.PutUint32(torn, 1000)
	binary.LittleEndian.PutUint32(torn[4:], crc32.Checksum(torn[:4], castagnoli))
	copy(torn[12:], strings.Repeat("x", 40))

	for _, tc := range []struct {
		name string
		tail []byte
	}{{"cut-short record", torn}, {"zero-filled tail", make([]byte, 4096)}} {
		f.kill()
		before, err := os.Stat(logFile(f))
		require.NoError(t, err)
		appendBytes(t, logFile(f), tc.tail)
		writeN(t, leader.addr, "b-"+tc.name, 20) // the rest of the cluster goes on

		c.start(f)
		c.waitLeader(10 * time.Second)
		writeN(t, leader.addr, "c-"+tc.name, 20)
		c.waitConverged(15 * time.Second)
		after, err := os.Stat(logFile(f))
		require.NoError(t, err)
		assert.Greater(t, after.Size(), before.Size(), "%s: the node appended again after the repair", tc.name)
	}
}

// TestCorruptLogMiddleIsRefused flips a byte in the middle of a stopped
// node's log: restarting must fail with exit 64 and say where, never
// truncate silently.
func TestCorruptLogMiddleIsRefused(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.waitLeader(5 * time.Second)
	writeN(t, leader.addr, "k", 100)
	f := c.follower(leader)
	c.waitConverged(10 * time.Second)
	f.kill()

	data, err := os.ReadFile(logFile(f))
	require.NoError(t, err)
	require.Greater(t, len(data), 1000)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(logFile(f), data, 0o644))

	code, out := runKvnode(t, 10*time.Second, f.args...)
	assert.Equal(t, 64, code, out)
	assert.Contains(t, out, "corrupt")
	assert.Contains(t, out, "log.wal")
	after, err := os.ReadFile(logFile(f))
	require.NoError(t, err)
	assert.Equal(t, data, after, "the corrupt log was left as it was")
}
