package kvnode

import (
	"log/slog"

	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// nodeConfig is what main parsed from the flags; each mode opens its store from it.
type nodeConfig struct {
	Mode    string            // raft | quorum
	ID      string            // this node's id, a key of Peers
	Listen  string            // host:port for clients and peers
	Peers   map[string]string // id -> address this node dials (may be a proxy)
	DataDir string
	Bug     string // one entry of the mode's catalog, "" = correct
	Clock   *clock.Skewable
	Logger  *slog.Logger

	// Quorum mode: replicas per key and read/write quorums (0 = mode defaults);
	// Consistency is a named level (one|quorum|all) that sets R and W.
	N, R, W     int
	Consistency string
}
