package quorum

import "fmt"

// Version orders the values of one key: a logical counter, ties broken by
// the id of the coordinator that wrote it, so two coordinators that pick the
// same counter still produce distinct, totally ordered versions. Inc is the
// coordinator's incarnation (bumped at every start): a restarted node may
// have forgotten counters it issued for keys it does not replicate, and
// must not name a second value with a version it already used.
type Version struct {
	Counter uint64 `json:"c"`
	Node    string `json:"n,omitempty"`
	Inc     uint64 `json:"i,omitempty"`
}

// Less reports whether v orders before o (lexicographic on Counter, Node, Inc).
func (v Version) Less(o Version) bool {
	if v.Counter != o.Counter {
		return v.Counter < o.Counter
	}
	if v.Node != o.Node {
		return v.Node < o.Node
	}
	return v.Inc < o.Inc
}

func (v Version) String() string { return fmt.Sprintf("%d@%s.%d", v.Counter, v.Node, v.Inc) }
