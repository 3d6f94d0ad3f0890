// Package storage is the durable disk behind kvnode's raft mode: the raft
// log, the hard state (term and vote) and the latest snapshot, in one data
// directory.
//
//	st, err := storage.Open(dir) // creates dir if needed, repairs a torn log tail
//	defer st.Close()
//	cfg.Log, cfg.Stable, cfg.Snapshots = st.Log(), st.Stable(), st.Snapshots()
//
// Files in dir:
//
//	LOCK           flock'd while open, so two processes never share a directory
//	log.wal        the log: records appended, one fsync per Append call
//	hardstate.json term and vote, replaced atomically (temp, fsync, rename, fsync dir)
//	snapshot.bin   the latest snapshot, replaced the same way
//
// Every log record is framed as length, CRC32-C of the length, CRC32-C of
// the payload. Open repairs a torn tail — a last record cut short by a crash
// mid-write, or a zero-filled tail — by truncating the file after the last
// whole record. Any other damage (a bad checksum with valid data after it)
// is refused with an error naming the file and offset: silently dropping
// acknowledged entries would break raft's guarantees.
//
// Each method returns only after its change is durable. The stores are safe
// for concurrent use, though raft calls them from one goroutine.
package storage
