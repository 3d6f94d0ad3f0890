// Package quorum is kvnode's leaderless mode: Dynamo-style replication over
// a consistent-hash ring, made linearizable for reads and writes by the ABD
// algorithm (Attiya, Bar-Noy, Dolev), and honestly NOT linearizable for CAS.
//
// # Placement
//
// Every member owns VNodes points on a hash ring; a key's N replicas are the
// first N distinct members clockwise from the key's hash (N defaults to 3,
// capped at the cluster size). Any node coordinates any request: it talks to
// the key's replicas over HTTP (POST /internal/quorum/get and .../put), with
// a short timeout per request and no retries.
//
// # Versions
//
// Every stored value carries a Version (counter, coordinator id, coordinator
// incarnation), ordered lexicographically. The counter is logical: a
// coordinator picks one above everything a read quorum reported, so the
// order of versions follows the real-time order of writes, whatever the
// clocks say. The id breaks ties between coordinators that picked the same
// counter; a coordinator never issues the same counter twice in one
// incarnation, and the incarnation (bumped durably at every start) covers
// counters forgotten in a crash, so a version names exactly one value.
// A replica keeps the highest version it was sent and acknowledges any put
// (applying it only if newer), so versions at a replica only grow.
//
// # ABD: why each step is needed
//
// Defaults are R = W = majority of N, so any read quorum meets any write
// quorum (R + W > N).
//
// Write (Put):
//  1. Query R replicas for the key's highest version. Without this step a
//     coordinator could not choose a version above every completed write,
//     and a later write could order before an earlier one (which is exactly
//     what the lww-wall-clock bug does with a skewed clock).
//  2. Store (value, max+1) at W replicas and only then acknowledge. Any later
//     read quorum intersects those W replicas, so it sees this version or a
//     newer one.
//
// Read (Get):
//  1. Query R replicas and take the newest version found.
//  2. If fewer than W of the replicas that answered hold that version, write
//     it to replicas that lack it until W hold it, before answering. Without
//     this write-back, a read could return the value of a write that is
//     still in flight (on only a few replicas), and a later read, whose
//     quorum misses those replicas, would return the older value: a new-old
//     inversion that no linearization explains (bug no-write-back). If the
//     newest version already sits on W replicas, every later read quorum
//     meets it and the write-back is skipped.
//
// With R + W <= N (consistency one, or bug r1w1) quorums need not intersect
// and reads can miss completed writes; the store does what it is told.
//
// # CAS is not linearizable
//
// CAS is offered with the same API as raft mode, but it is a read quorum,
// a comparison at the coordinator and a write quorum, with nothing making
// the three one atomic step: two CAS operations can both read v, both
// compare equal and both succeed, and a write can land between a CAS's read
// and its write. The harness's kv workload with cas finds this on the
// correct store; it is the mode's honest limit, not a bug to hide.
//
// # Errors
//
// Per api/store.go: if too few replicas answer before any write was sent
// (the version query of a Put, the read of a CAS, the query of a Get) the
// operation fails with api.ErrNotApplied. Once a put was sent to some
// replica, a missing write quorum is api.ErrUnknown: the value may be on
// some replicas and a later read may return it (and write it back). Only
// when every put failed before reaching any peer is the write ErrNotApplied.
// A read whose write-back misses a quorum fails with ErrNotApplied: it only
// spread a value that some write had already stored, so it changed nothing
// of its own.
//
// # Durability
//
// A replica acknowledges a put only after the record is fsynced to its
// append-only log (length, CRC-32C, payload), and its in-memory state only
// ever holds durable records, so nothing a reader saw can vanish in a crash.
// Appends are group-committed: records queued during one write+fsync share
// the next, and a busy replica lingers 300µs before an fsync to gather more. On start the log is replayed (highest version per key wins); a
// torn last record is cut off, and a damaged record followed by more data is
// refused with ErrCorrupt, because starting would forget acknowledged writes.
//
// # Convergence (anti-entropy)
//
// Replicas of a key may differ after faults (a write that reached only some
// of them). POST /internal/quorum/repair (Store.Repair) makes the node read
// every key it holds at ALL of the key's replicas and write the newest
// version back to each replica that lacks it. Called on every node in the
// recovery phase, it leaves every replica of every key with the same
// (version, value), so Digest.Values agree per key.
//
// # Bugs
//
// Bugs() lists the injectable bugs (Config.Bug): no-write-back,
// sloppy-quorum, lww-wall-clock, r1w1, ack-before-fsync,
// version-from-first-reply, put-overwrites-newer, and for sets set-lww and
// set-repair-overwrites (crdt.go). What each needs to show:
//   - no-write-back: a write that reaches only some replicas (partition,
//     lost messages, a crash mid-write), then reads through different quorums.
//   - sloppy-quorum: more members than N (its fallbacks are the members
//     outside the key's replicas), and a partition whose minority side holds
//     at least W members: writes there succeed and the majority never sees them.
//   - lww-wall-clock: clock skew between coordinators (POST /debug/clock).
//   - r1w1: anything that delays or drops a put to some replica.
//   - ack-before-fsync: SIGKILL of at least N-R+1 replicas of a key within
//     the 500 ms flush window (killing one node loses nothing the others
//     still hold), e.g. killing a majority or every node at once.
//   - version-from-first-reply: replicas of a key at different versions (any
//     concurrent writes, more when a node wakes from a short stall), so the
//     first answer to a write's version query is not the newest; and few
//     writers per key, or a concurrent write hides the lost one.
//   - put-overwrites-newer: two puts of one key reaching a replica out of
//     order (concurrent coordinators, a paused node's late write-back).
//   - set-lww: concurrent adds to one set (no fault needed).
//   - set-repair-overwrites: replicas of a set that differ when it is read
//     (any add in flight), and anti-entropy after the heal.
//
// # Sets and counters
//
// Sets and PN counters are CRDTs kept beside the registers; crdt.go says
// how they are stored, merged, read and repaired.
package quorum
