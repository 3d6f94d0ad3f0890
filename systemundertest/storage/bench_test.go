package storage

import (
	"testing"

	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// BenchmarkAppend: one 100-byte entry per Append, so one fsync each.
func BenchmarkAppend(b *testing.B) {
	st, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	data := make([]byte, 100)
	b.ResetTimer()
	for i := range b.N {
		if err := st.Log().Append([]raft.Entry{{Index: uint64(i + 1), Term: 1, Data: data}}); err != nil {
			b.Fatal(err)
		}
	}
}
