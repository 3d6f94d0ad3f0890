package quorum

// BugInfo is one entry of the quorum mode's catalog of injectable bugs
// (the same shape as raft.Bugs()).
type BugInfo struct {
	Name        string
	Description string
	// Workload expected to expose it: the register workloads without cas,
	// since cas is not linearizable in this mode even without a bug and a
	// cas anomaly would say nothing about the bug.
	Workload string
	Nemesis  []string // fault packages expected to expose it
}

// Bug names (Config.Bug).
const (
	BugNoWriteBack    = "no-write-back"
	BugSloppyQuorum   = "sloppy-quorum"
	BugLWWWallClock   = "lww-wall-clock"
	BugR1W1           = "r1w1"
	BugAckBeforeFsync = "ack-before-fsync"

	BugVersionFromFirstReply = "version-from-first-reply"
	BugPutOverwritesNewer    = "put-overwrites-newer"

	BugSetLWW              = "set-lww"
	BugSetRepairOverwrites = "set-repair-overwrites"
)

// Bugs is the catalog of the quorum mode's injectable bugs.
func Bugs() []BugInfo {
	return []BugInfo{
		{
			Name: BugNoWriteBack,
			Description: "reads answer the newest value of a read quorum without writing it back, " +
				"so a later read can see an older value (new-old inversion)",
			Workload: "register-without-cas",
			// Concurrent reads and writes show it without faults; a
			// partition leaves writes on fewer replicas for longer.
			Nemesis: []string{"partition"},
		},
		{
			Name: BugSloppyQuorum,
			Description: "quorums count any reachable nodes instead of the key's replicas, so writes " +
				"acknowledged by a minority side are invisible to reads on the majority side",
			Workload: "register-without-cas",
			Nemesis:  []string{"partition"},
		},
		{
			Name: BugLWWWallClock,
			Description: "write versions come from the coordinator's wall clock (last writer wins), " +
				"so a node whose clock is behind writes values that are silently older than what is stored",
			Workload: "register-without-cas",
			Nemesis:  []string{"clock"},
		},
		{
			Name: BugR1W1,
			Description: "R and W silently become 1 whatever was configured, so read and write quorums " +
				"need not intersect",
			Workload: "register-without-cas",
			Nemesis:  []string{"partition", "pause"},
		},
		{
			Name: BugAckBeforeFsync,
			Description: "a replica acknowledges a write from a user-space buffer that is flushed and " +
				"fsynced every 500 ms, so SIGKILL in that window loses acknowledged writes",
			Workload: "register-without-cas",
			// Killing one replica loses nothing the others hold: it takes
			// the kill package's seeded choice of killing a majority or all
			// nodes at once, within the flush window of most of a key's
			// replicas.
			Nemesis: []string{"kill"},
		},
		{
			Name: BugVersionFromFirstReply,
			Description: "a write takes its version above the first replica that answered the version query " +
				"instead of the newest of the read quorum, so it can be stored under a version older than " +
				"the value it overwrites and silently lose",
			// Many keys, not one register: the lost write is only visible
			// to a read that follows it before any other write of the key.
			// On one register written by ten workers, five to seven writes
			// are in flight at any moment and the checker may order any of
			// them after the lost one (measured: 43 writes lost in 10 s,
			// none visible). On rotating keys a key has one or two writers.
			// Stalls shorter than an op timeout leave a replica behind that
			// answers first when it wakes.
			Workload: "kv-without-cas",
			Nemesis:  []string{"stutter", "pause"},
		},
		{
			Name: BugPutOverwritesNewer,
			Description: "a replica stores any version that differs from the one it holds, older or not, so a " +
				"late write or write-back rolls a key back",
			Workload: "register-without-cas",
			Nemesis:  []string{"pause", "partition"},
		},
		{
			Name: BugSetLWW,
			Description: "a set is kept as a last-writer-wins register: an add reads the set, adds the element and " +
				"writes the whole set back under a new version, so of two adds that read the same version the later " +
				"write erases the other's element, acknowledged or not",
			Workload: "set",
			// Concurrent adds to one set are enough; faults widen the window.
			Nemesis: []string{"partition"},
		},
		{
			Name: BugSetRepairOverwrites,
			Description: "read repair treats a set as a register: it pushes one reply (the one with the newest " +
				"version, and sets carry none, so the first) to the replicas that differ, in place of what they hold, " +
				"instead of merging, which wipes elements that reached other replicas first; anti-entropy does the same",
			Workload: "set",
			Nemesis:  []string{"partition"},
		},
	}
}

// knownBug reports whether name is "" or in the catalog.
func knownBug(name string) bool {
	if name == "" {
		return true
	}
	for _, b := range Bugs() {
		if b.Name == name {
			return true
		}
	}
	return false
}
