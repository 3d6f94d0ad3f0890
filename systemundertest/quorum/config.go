package quorum

import (
	"fmt"
	"github.com/gauntlet-dev/gauntlet/env"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// Config configures a quorum-mode node. Zero values get defaults.
type Config struct {
	ID      string            // this node's id
	Peers   map[string]string // id -> address this node dials (may be a proxy); self may be absent
	DataDir string            // where the replica's log lives

	// N replicas per key (default 3, capped at the cluster size); R and W are
	// the read and write quorums. Consistency (one|quorum|all) names R=W;
	// explicit R or W win over it. Default: R = W = majority of N.
	N, R, W     int
	Consistency string

	Bug    string      // one name of Bugs(), "" = correct
	Clock  clock.Clock // the node's wall clock (only lww-wall-clock reads it)
	Logger *slog.Logger

	// RPCTimeout bounds each peer request (default 500ms): a paused or
	// partitioned replica must not hold an operation, which may take three
	// rounds (CAS: query, write-back, write), past the client's timeout.
	RPCTimeout time.Duration
	// VNodes is the number of ring positions per member (default 64).
	VNodes int
	// Transport carries peer requests (default: a pooled http.Transport).
	// Tests put a fault injector here.
	Transport http.RoundTripper
	// FlushInterval is how long ack-before-fsync keeps acknowledged writes in
	// user space (default 500ms).
	FlushInterval time.Duration
	// Env is the node's network, disk and timers (nil = the OS's).
	Env env.Env
}

// quorums is the resolved replication arithmetic.
type quorums struct{ n, r, w int }

// members returns every member id, sorted, self included.
func (c Config) members() []string {
	seen := map[string]bool{c.ID: true}
	out := []string{c.ID}
	for id := range c.Peers {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// resolve computes N, R and W from the configuration and the cluster size.
func (c Config) resolve() (quorums, error) {
	size := len(c.members())
	if c.N < 0 || c.R < 0 || c.W < 0 {
		return quorums{}, fmt.Errorf("quorum: negative N=%d R=%d W=%d", c.N, c.R, c.W)
	}
	n := c.N
	if n <= 0 {
		n = 3
	}
	n = min(n, size)
	var q quorums
	q.n = n
	switch c.Consistency {
	case "", "quorum":
		q.r, q.w = n/2+1, n/2+1
	case "one":
		q.r, q.w = 1, 1
	case "all":
		q.r, q.w = n, n
	default:
		return q, fmt.Errorf("quorum: unknown consistency %q (one|quorum|all)", c.Consistency)
	}
	if c.R > 0 {
		q.r = c.R
	}
	if c.W > 0 {
		q.w = c.W
	}
	if q.r > n || q.w > n {
		return q, fmt.Errorf("quorum: R=%d W=%d exceed N=%d", q.r, q.w, n)
	}
	if c.Bug == BugR1W1 {
		q.r, q.w = 1, 1 // the bug: silently, whatever was asked for
	}
	return q, nil
}

func (c Config) withDefaults() Config {
	if c.Env == nil {
		c.Env = env.OS()
	}
	if c.Clock == nil {
		c.Clock = clock.New(c.Env)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = 500 * time.Millisecond
	}
	if c.VNodes <= 0 {
		c.VNodes = 64
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 500 * time.Millisecond
	}
	if c.Transport == nil {
		c.Transport = &http.Transport{
			DialContext:         env.Dialer(c.Env, c.RPCTimeout),
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     30 * time.Second,
		}
	}
	return c
}
