package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

func ents(lo, hi uint64, term uint64) []raft.Entry {
	var out []raft.Entry
	for i := lo; i <= hi; i++ {
		out = append(out, raft.Entry{Index: i, Term: term, Data: []byte(fmt.Sprintf("cmd-%d", i))})
	}
	return out
}

func open(t *testing.T, dir string) *Store {
	t.Helper()
	st, err := Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func bounds(t *testing.T, l *LogStore) (uint64, uint64) {
	t.Helper()
	f, err := l.FirstIndex()
	require.NoError(t, err)
	last, err := l.LastIndex()
	require.NoError(t, err)
	return f, last
}

func TestLogRestart(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	require.NoError(t, st.Log().Append(ents(1, 10, 1)))
	require.NoError(t, st.Log().Append(ents(11, 20, 2)))
	require.NoError(t, st.Log().TruncateSuffix(15))
	require.NoError(t, st.Log().Append(ents(15, 17, 3)))
	require.NoError(t, st.Log().TruncatePrefix(5))
	require.NoError(t, st.Stable().SetHardState(raft.HardState{Term: 3, Vote: "n2"}))
	snap := raft.Snapshot{Index: 5, Term: 1, Peers: []string{"n1", "n2"}, Data: []byte("state")}
	require.NoError(t, st.Snapshots().Save(snap))
	require.NoError(t, st.Close())

	st = open(t, dir)
	f, l := bounds(t, st.Log())
	assert.Equal(t, uint64(6), f)
	assert.Equal(t, uint64(17), l)
	got, err := st.Log().Entries(6, 18)
	require.NoError(t, err)
	want := append(ents(6, 10, 1), ents(11, 14, 2)...)
	want = append(want, ents(15, 17, 3)...)
	assert.Equal(t, want, got)
	hs, err := st.Stable().HardState()
	require.NoError(t, err)
	assert.Equal(t, raft.HardState{Term: 3, Vote: "n2"}, hs)
	s, ok, err := st.Snapshots().Latest()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, snap, s)
}

func TestLogAppendMustFollow(t *testing.T) {
	st := open(t, t.TempDir())
	require.NoError(t, st.Log().Append(ents(1, 3, 1)))
	require.Error(t, st.Log().Append(ents(5, 6, 1)))
	require.Error(t, st.Log().Append(ents(3, 4, 1)))
	_, l := bounds(t, st.Log())
	assert.Equal(t, uint64(3), l)
}

// A prefix truncated past the end empties the log; the next append may
// start anywhere (after a snapshot install), and that survives a restart.
func TestLogPrefixPastEnd(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	require.NoError(t, st.Log().Append(ents(1, 3, 1)))
	require.NoError(t, st.Log().TruncatePrefix(100))
	f, l := bounds(t, st.Log())
	assert.Zero(t, f)
	assert.Zero(t, l)
	require.NoError(t, st.Log().Append(ents(101, 102, 4)))
	require.NoError(t, st.Close())
	st = open(t, dir)
	f, l = bounds(t, st.Log())
	assert.Equal(t, []uint64{101, 102}, []uint64{f, l})
}

// A suffix truncation cuts the file; the compaction mark it may have cut
// is written again, so compacted entries do not come back.
func TestLogSuffixKeepsPrefixMark(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	require.NoError(t, st.Log().Append(ents(1, 10, 1)))
	require.NoError(t, st.Log().TruncatePrefix(5))
	require.NoError(t, st.Log().TruncateSuffix(8))
	require.NoError(t, st.Close())
	st = open(t, dir)
	f, l := bounds(t, st.Log())
	assert.Equal(t, []uint64{6, 7}, []uint64{f, l})
}

// Compaction rewrites the file once the dead prefix is large.
func TestLogRewrite(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	big := make([]byte, 64<<10)
	var batch []raft.Entry
	for i := uint64(1); i <= 100; i++ {
		batch = append(batch, raft.Entry{Index: i, Term: 1, Data: big})
	}
	require.NoError(t, st.Log().Append(batch))
	require.NoError(t, st.Log().TruncatePrefix(95))
	fi, err := os.Stat(filepath.Join(dir, logFile))
	require.NoError(t, err)
	assert.Less(t, fi.Size(), int64(10*len(big)), "the dead prefix was not rewritten away")
	require.NoError(t, st.Log().Append([]raft.Entry{{Index: 101, Term: 2}}))
	require.NoError(t, st.Close())
	st = open(t, dir)
	got, err := st.Log().Entries(96, 102)
	require.NoError(t, err)
	require.Len(t, got, 6)
	assert.Equal(t, uint64(2), got[5].Term)
	assert.Equal(t, big, got[0].Data)
}

func TestTornTailIsRepaired(t *testing.T) {
	for _, cut := range []int{1, 5, 11, 12, 20} {
		t.Run(fmt.Sprint("cut", cut), func(t *testing.T) {
			dir := t.TempDir()
			st := open(t, dir)
			require.NoError(t, st.Log().Append(ents(1, 5, 1)))
			require.NoError(t, st.Close())
			path := filepath.Join(dir, logFile)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			// Cut into the last record, as a crash mid-write would.
			require.NoError(t, os.Truncate(path, fi.Size()-int64(cut)))

			st = open(t, dir)
			f, l := bounds(t, st.Log())
			assert.Equal(t, []uint64{1, 4}, []uint64{f, l})
			require.NoError(t, st.Log().Append(ents(5, 6, 2)))
			require.NoError(t, st.Close())
			st = open(t, dir)
			got, err := st.Log().Entries(1, 7)
			require.NoError(t, err)
			assert.Equal(t, append(ents(1, 4, 1), ents(5, 6, 2)...), got)
		})
	}
}

func TestZeroFilledTailIsRepaired(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	require.NoError(t, st.Log().Append(ents(1, 3, 1)))
	require.NoError(t, st.Close())
	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 4096))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	st = open(t, dir)
	_, l := bounds(t, st.Log())
	assert.Equal(t, uint64(3), l)
}

func TestMidCorruptionIsRefused(t *testing.T) {
	for name, at := range map[string]func(size int64) int64{
		"payload": func(int64) int64 { return headerSize + 3 },  // inside the first record's payload
		"header":  func(int64) int64 { return 1 },               // the first record's length
		"crc":     func(int64) int64 { return 9 },               // the first record's payload checksum
		"middle":  func(size int64) int64 { return size/2 + 1 }, // somewhere in the middle
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := open(t, dir)
			require.NoError(t, st.Log().Append(ents(1, 20, 1)))
			require.NoError(t, st.Close())
			path := filepath.Join(dir, logFile)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			off := at(int64(len(b)))
			b[off] ^= 0x55
			require.NoError(t, os.WriteFile(path, b, 0o644))

			_, err = Open(dir)
			require.Error(t, err)
			var ce *CorruptError
			require.True(t, errors.As(err, &ce), "want a CorruptError, got %v", err)
			assert.Equal(t, path, ce.File)
			assert.LessOrEqual(t, ce.Offset, off)
			assert.Contains(t, err.Error(), path)
			// Refused, not repaired: the file is untouched.
			after, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, b, after)
		})
	}
}

func TestCorruptHardStateAndSnapshotAreRefused(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	require.NoError(t, st.Stable().SetHardState(raft.HardState{Term: 7, Vote: "n1"}))
	require.NoError(t, st.Snapshots().Save(raft.Snapshot{Index: 3, Term: 1, Data: []byte("abc")}))
	require.NoError(t, st.Close())
	for _, name := range []string{hardStateFile, snapshotFile} {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		bad := append([]byte(nil), b...)
		bad[len(bad)-3] ^= 0x01
		require.NoError(t, os.WriteFile(path, bad, 0o644))
		_, err = Open(dir)
		require.Error(t, err)
		assert.Contains(t, err.Error(), name)
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	open(t, dir)
}

func TestOpenErrors(t *testing.T) {
	_, err := Open("")
	require.Error(t, err)

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	_, err = Open(file)
	require.Error(t, err, "a regular file is not a data directory")

	if os.Geteuid() != 0 {
		ro := t.TempDir()
		require.NoError(t, os.Chmod(ro, 0o500))
		t.Cleanup(func() { os.Chmod(ro, 0o700) })
		_, err = Open(ro)
		require.Error(t, err)
		assert.Contains(t, err.Error(), ro)
	}

	dir := t.TempDir()
	open(t, dir)
	_, err = Open(dir)
	require.Error(t, err, "a second open of the same directory must fail on the lock")
	assert.Contains(t, err.Error(), "lock")
}
