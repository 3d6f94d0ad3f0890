package isolation

import (
	"fmt"
	"strings"
)

// The consistency ladder, weakest first: a history that satisfies a model
// satisfies every model below it. Each anomaly rules out the model where it
// first appears and everything above (Elle's consistency-model.clj, Adya,
// Cerone et al).
var ladder = []string{ReadUncommitted, ReadCommitted, SnapshotIsolation, Serializable, StrongSessionSerializable, StrictSerializable}

// Models lists the consistency models, weakest first.
func Models() []string { return append([]string(nil), ladder...) }

// ParseConsistency validates a consistency model's name ("" is
// strict-serializable, Elle's default).
func ParseConsistency(s string) (string, error) {
	if s == "" {
		return StrictSerializable, nil
	}
	switch s {
	case "strong-serializable":
		return StrictSerializable, nil
	case "strong-session":
		return StrongSessionSerializable, nil
	}
	for _, m := range ladder {
		if m == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown consistency model %q: want one of %s", s, strings.Join(ladder, ", "))
}

func level(model string) int {
	for i, m := range ladder {
		if m == model {
			return i
		}
	}
	return len(ladder) - 1
}

const (
	lvRU = iota
	lvRC
	lvSI
	lvSer
	lvSession
	lvStrict
	lvNone // rules out nothing
)

// anomalyLevel is the weakest model each anomaly rules out.
var anomalyLevel = map[string]int{
	// Read uncommitted: dirty writes (G0); a read of a value no one wrote
	// or of one element twice, which no order of writes explains.
	"G0":                 lvRU,
	"duplicate-elements": lvRU,
	"unwritten-value":    lvRU,
	// Read committed: dirty and intermediate reads, circular information
	// flow, and what implies them.
	"G1a":                lvRC,
	"G1b":                lvRC,
	"G1c":                lvRC,
	"dirty-update":       lvRC, // implies G1a (Elle)
	"future-read":        lvRC, // implies G1c (Elle)
	"incompatible-order": lvRC, // implies G1a (Elle)
	"cyclic-versions":    lvRC, // found through reads, so from read committed up (rwregister.go)
	// Snapshot isolation: one anti-dependency, or none adjacent; a
	// transaction inconsistent with itself; two committed writers of one
	// read version (whichever wrote second did not see the first's write: G-single).
	"internal":      lvSI,
	"G-single":      lvSI,
	"G-nonadjacent": lvSI,
	"lost-update":   lvSI,
	// Serializable: any dependency cycle.
	"G2-item": lvSer,
}

func init() {
	for _, c := range []string{"G0", "G1c", "G-single", "G-nonadjacent", "G2-item"} {
		anomalyLevel[c+"-process"] = lvSession
		anomalyLevel[c+"-realtime"] = lvStrict
	}
}

// class is one kind of dependency cycle, searched in this order (most
// severe first, as Elle's anomaly-severity graph has it).
type class struct {
	name   string
	mask   uint8 // the edge kinds it may use
	oneRW  bool  // exactly one rw edge (mask without kRW, plus that one)
	nonAdj bool  // rw edges, no two adjacent
}

var classes = func() []class {
	var out []class
	for _, v := range []struct {
		suffix string
		extra  uint8
	}{{"", 0}, {"-process", kProc}, {"-realtime", kProc | kRT}} {
		out = append(out,
			class{name: "G0" + v.suffix, mask: kWW | v.extra},
			class{name: "G1c" + v.suffix, mask: kWW | kWR | v.extra},
			class{name: "G-single" + v.suffix, mask: kWW | kWR | v.extra, oneRW: true},
			class{name: "G-nonadjacent" + v.suffix, mask: kData | v.extra, nonAdj: true},
			class{name: "G2-item" + v.suffix, mask: kData | v.extra})
	}
	return out
}()

// meaning says in words what each anomaly is.
var meaning = map[string]string{
	"G0":                 "dirty write: a cycle of write-write dependencies alone",
	"G1a":                "aborted read: a read of a value written by a transaction that failed",
	"G1b":                "intermediate read: a read of a value that its transaction later overwrote",
	"G1c":                "circular information flow: a cycle of write-write and write-read dependencies",
	"G-single":           "read skew: a cycle with exactly one anti-dependency",
	"G-nonadjacent":      "a cycle whose anti-dependencies are never adjacent",
	"G2-item":            "write skew or worse: a cycle with anti-dependencies",
	"dirty-update":       "a committed write built on a value written by a failed transaction",
	"internal":           "a transaction whose read disagrees with its own earlier reads or writes",
	"future-read":        "a read of a value its own transaction writes only later",
	"incompatible-order": "two reads of one key that no single order of appends explains",
	"duplicate-elements": "a list holding one appended value twice",
	"unwritten-value":    "a read of a value no transaction wrote",
	"cyclic-versions":    "versions of a key that follow each other in a circle",
	"lost-update":        "two committed transactions that read the same version of a key and both wrote it",
}

func meaningOf(name string) string {
	base, variant := name, ""
	for _, s := range []string{"-process", "-realtime"} {
		if strings.HasSuffix(name, s) {
			base, variant = strings.TrimSuffix(name, s), s
		}
	}
	m := meaning[base]
	switch variant {
	case "-process":
		m += ", closed by process (session) order"
	case "-realtime":
		m += ", closed by real-time order"
	}
	return m
}

// ruledOut names the models from level l up.
func ruledOut(l int) []string {
	if l >= len(ladder) {
		return nil
	}
	return append([]string(nil), ladder[l:]...)
}

// forbids says in words which models forbid an anomaly of level l.
func forbids(l int) string {
	switch {
	case l >= len(ladder):
		return "no model of the ladder forbids it"
	case l == len(ladder)-1:
		return ladder[l] + " forbids it"
	}
	return ladder[l] + " and every stronger model forbid it"
}
