package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Members that apply the same Raft log hold the same MVCC history: the same
// revision, and the same HashKV (a hash of every key revision up to a given
// revision). etcd #13766 (v3.5.0–v3.5.2) broke that after a SIGKILL under
// write load: the backend's periodic commit could persist an entry's
// consistent index before the entry's writes, so the restarted member
// skipped the entry — its raft indexes equal to the others', its revision
// behind them, its keys different. Digest therefore reports two extra
// pseudo-keys beside the per-key values, compared by the convergence
// checker like any key:
//
//	etcd:revision         the member's own revision
//	etcd:state@minrev     "r<R>/<hash>": the member's whole keyspace as of R,
//	                      the lowest revision of all members (stateAt) —
//	                      the same revision on every member, so a
//	                      difference is a divergence of history at or below
//	                      R, named with the members and R
//
// The members' client addresses are learnt from the runner's Converge call
// (the recovery phase, before digests are sampled).
const (
	KeyRevision = "etcd:revision"
	KeyState    = "etcd:state@minrev"
)

// members remembers every member's client address for Digest.
type members struct {
	mu    sync.Mutex
	addrs []string
}

func (m *members) set(addrs []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addrs = append([]string(nil), addrs...)
}

func (m *members) get() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.addrs...)
}

// Converge records the members' addresses; etcd needs no repair pass.
func (s *System) Converge(ctx context.Context, nodes []harness.Node, keys []string) error {
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	s.members.set(addrs)
	return nil
}

// revisionOf asks a member for its current revision (serializable: its own).
func revisionOf(ctx context.Context, addr string) (int64, error) {
	var st struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	g := newGateway(addr, 2*time.Second)
	defer g.Close()
	if err := g.call(ctx, "/v3/maintenance/status", struct{}{}, &st); err != nil {
		return 0, err
	}
	return strconv.ParseInt(st.Header.Revision, 10, 64)
}

// minRevision is the lowest revision among the members that answer within
// a second (own, the revision of the member asked, is always among them).
// The members are asked at once: the runner gives a whole digest 2 s.
func (s *System) minRevision(ctx context.Context, own int64) int64 {
	addrs := s.members.get()
	revs := make([]int64, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if r, err := revisionOf(cctx, a); err == nil {
				revs[i] = r
			}
		}()
	}
	wg.Wait()
	min := own
	for _, r := range revs {
		if r > 0 && r < min {
			min = r
		}
	}
	return min
}

// stateAt is a hash of everything a serializable range of the whole
// keyspace at rev returns — every key with its value, create and mod
// revisions and version — as "r<rev>/<hash>". A member whose history
// differs at or below rev (a skipped entry shifts every later mod
// revision) answers differently.
//
// Why not HashKV: the JSON gateway maps Hash and HashKV to the same path,
// /v3/maintenance/hash, and Hash answers (checked on v3.5.2: the hash is
// the same for every revision asked, also a future one; no
// compact_revision), and Hash covers the whole backend, not the history.
func stateAt(ctx context.Context, g *gateway, rev int64) (string, error) {
	var r struct {
		Kvs []struct {
			Key            string `json:"key"`
			Value          string `json:"value"`
			CreateRevision string `json:"create_revision"`
			ModRevision    string `json:"mod_revision"`
			Version        string `json:"version"`
		} `json:"kvs"`
	}
	all := b64("\x00")
	req := map[string]any{"key": all, "range_end": all, "serializable": true, "revision": strconv.FormatInt(rev, 10)}
	if err := g.call(ctx, "/v3/kv/range", req, &r); err != nil {
		return "", fmt.Errorf("range at revision %d: %w", rev, err)
	}
	h := sha256.New()
	for _, kv := range r.Kvs {
		fmt.Fprintf(h, "%q=%q c%s m%s v%s\n", unb64(kv.Key), unb64(kv.Value), kv.CreateRevision, kv.ModRevision, kv.Version)
	}
	return fmt.Sprintf("r%d/%s", rev, hex.EncodeToString(h.Sum(nil))[:8]), nil
}
