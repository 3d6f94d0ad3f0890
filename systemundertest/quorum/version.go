package quorum

import "fmt"

// Version orders the values of one key: a logical counter, ties broken by
// the id of the coordinator that wrote it, so two coordinators that pick the
// same counter still produce distinct, totally ordered versions.
type Version struct {
	Counter uint64 `json:"c"`
	Node    string `json:"n,omitempty"`
}

// Less reports whether v orders before o (lexicographic on Counter, Node).
func (v Version) Less(o Version) bool {
	if v.Counter != o.Counter {
		return v.Counter < o.Counter
	}
	return v.Node < o.Node
}

// IsZero reports the version of a key that was never written.
func (v Version) IsZero() bool { return v.Counter == 0 && v.Node == "" }

func (v Version) String() string { return fmt.Sprintf("%d@%s", v.Counter, v.Node) }
