package quorum

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/gauntlet-dev/gauntlet/env"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Store is one quorum-mode node: a replica of the keys the ring gives it and
// a coordinator for any key. It implements api.Store.
type Store struct {
	cfg    Config
	q      quorums
	ring   *ring
	rep    *replica
	http   *http.Client
	closed atomic.Bool

	inc     uint64 // this start's incarnation (Version.Inc)
	mu      sync.Mutex
	counter uint64 // highest version counter this incarnation has issued

	suspectMu sync.Mutex
	suspect   map[string]time.Time // sloppy-quorum only: peers that failed lately
}

var _ api.Store = (*Store)(nil)

// Open replays the replica's log from cfg.DataDir and returns the node.
// Serve Handler() under /internal/quorum/ so peers can reach it.
func Open(cfg Config) (*Store, error) {
	if cfg.ID == "" {
		return nil, errors.New("quorum: open: empty node id")
	}
	if !knownBug(cfg.Bug) {
		return nil, fmt.Errorf("quorum: open: unknown bug %q", cfg.Bug)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("quorum: open: empty data dir")
	}
	cfg = cfg.withDefaults()
	q, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if err := cfg.Env.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("quorum: open: %w", err)
	}
	inc, err := nextIncarnation(cfg.Env, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	w, live, err := openWAL(cfg.Env, filepath.Join(cfg.DataDir, "quorum.log"), cfg.Bug == BugAckBeforeFsync, cfg.FlushInterval,
		func(msg string, args ...any) { cfg.Logger.Warn(msg, args...) })
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:  cfg,
		q:    q,
		ring: newRing(cfg.members(), cfg.VNodes),
		rep:  newReplica(w, live, cfg.Bug == BugPutOverwritesNewer),
		http: &http.Client{Transport: cfg.Transport, Timeout: cfg.RPCTimeout},
		inc:  inc,

		suspect: map[string]time.Time{},
	}
	cfg.Logger.Info("quorum store open", "id", cfg.ID, "incarnation", inc, "n", q.n, "r", q.r, "w", q.w,
		"members", len(cfg.members()), "keys", len(live), "bug", cfg.Bug)
	return s, nil
}

// Quorums returns the resolved N, R and W.
func (s *Store) Quorums() (n, r, w int) { return s.q.n, s.q.r, s.q.w }

// Replicas returns the ids of key's replicas, in ring order.
func (s *Store) Replicas(key string) []string { return s.ring.preference(key)[:s.q.n] }

func (s *Store) localPut(e entry) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.rep.put(e)
}

// nextIncarnation bumps the durable start counter in dir.
func nextIncarnation(disk env.Disk, dir string) (uint64, error) {
	path := filepath.Join(dir, "incarnation")
	var inc uint64
	data, err := disk.ReadFile(path)
	switch {
	case err == nil:
		inc, err = strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("quorum: read %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("quorum: read incarnation: %w", err)
	}
	inc++
	tmp := path + ".tmp"
	f, err := disk.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
	if err == nil {
		_, err = io.WriteString(f, strconv.FormatUint(inc, 10)+"\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = disk.Rename(tmp, path)
	}
	if err != nil {
		return 0, fmt.Errorf("quorum: write incarnation: %w", err)
	}
	return inc, syncDir(disk, dir)
}

// nextVersion issues a version above seen that this node never issued
// before, so one version never names two different values — not even for
// two concurrent writes coordinated here that saw the same maximum.
func (s *Store) nextVersion(seen uint64) Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := max(seen, s.counter) + 1
	if s.cfg.Bug == BugLWWWallClock {
		// The bug: the wall clock alone orders writes. Kept unique per node,
		// so the damage is purely the clock's.
		c = max(uint64(s.cfg.Clock.Now().UnixNano()), s.counter+1)
	}
	s.counter = c
	return Version{Counter: c, Node: s.cfg.ID, Inc: s.inc}
}

type reply struct {
	id   string
	resp getResp
	err  error
}

// gather runs op against targets concurrently and returns the successful
// replies once need of them succeeded, every target answered, or ctx ended.
// fallbacks (sloppy-quorum only) replace targets that failed. sent reports
// whether any request may have reached a peer. Requests still running when
// gather returns go on in the background until their own timeout, so a put
// keeps reaching the remaining replicas after the quorum acknowledged.
func (s *Store) gather(ctx context.Context, targets, fallbacks []string, need int, op func(ctx context.Context, id string) (getResp, error)) (oks []reply, sent bool) {
	ch := make(chan reply, len(targets)+len(fallbacks))
	base := context.WithoutCancel(ctx)
	start := func(id string) {
		go func() {
			rctx, cancel := context.WithTimeout(base, s.cfg.RPCTimeout)
			defer cancel()
			resp, err := op(rctx, id)
			s.noteResult(id, err)
			ch <- reply{id: id, resp: resp, err: err}
		}()
	}
	for _, id := range targets {
		start(id)
	}
	pending := len(targets)
	for pending > 0 && len(oks) < need {
		select {
		case r := <-ch:
			pending--
			if r.err == nil {
				oks = append(oks, r)
				sent = true
				continue
			}
			if !notSent(r.err) {
				sent = true
			}
			s.cfg.Logger.Debug("peer request failed", "peer", r.id, "err", r.err)
			if len(fallbacks) > 0 {
				start(fallbacks[0])
				fallbacks = fallbacks[1:]
				pending++
			}
		case <-ctx.Done():
			return oks, true
		}
	}
	return oks, sent || pending > 0
}

// targets returns the key's replicas. Under sloppy-quorum it returns the
// first N members of the preference list that did not fail lately, as
// Dynamo does, and the rest as fallbacks: a quorum of whoever answers.
func (s *Store) targets(key string) (home, fallbacks []string) {
	pref := s.ring.preference(key)
	if s.cfg.Bug != BugSloppyQuorum {
		return pref[:s.q.n], nil
	}
	now := s.cfg.Env.Now()
	var healthy, suspected []string
	s.suspectMu.Lock()
	for _, id := range pref {
		if now.Before(s.suspect[id]) {
			suspected = append(suspected, id)
		} else {
			healthy = append(healthy, id)
		}
	}
	s.suspectMu.Unlock()
	order := append(healthy, suspected...)
	return order[:s.q.n], order[s.q.n:]
}

// noteResult feeds sloppy-quorum's failure detector.
func (s *Store) noteResult(id string, err error) {
	if s.cfg.Bug != BugSloppyQuorum {
		return
	}
	s.suspectMu.Lock()
	defer s.suspectMu.Unlock()
	if err != nil {
		s.suspect[id] = s.cfg.Env.Now().Add(2 * time.Second)
	} else {
		delete(s.suspect, id)
	}
}

func (s *Store) queryOp(key string) func(ctx context.Context, id string) (getResp, error) {
	return func(ctx context.Context, id string) (getResp, error) {
		var out getResp
		err := s.call(ctx, id, "get", getReq{Key: key}, &out)
		return out, err
	}
}

func (s *Store) putOp(e entry) func(ctx context.Context, id string) (getResp, error) {
	return func(ctx context.Context, id string) (getResp, error) {
		return getResp{}, s.call(ctx, id, "put", putReq{Key: e.Key, Value: e.Value, Ver: e.Ver}, nil)
	}
}

func newest(oks []reply) reply {
	best := oks[0]
	for _, r := range oks[1:] {
		if best.resp.Ver.Less(r.resp.Ver) {
			best = r
		}
	}
	return best
}

// read is the ABD read: query r replicas (all of them when all is set) and
// make sure the newest value found sits on a write quorum before returning it.
func (s *Store) read(ctx context.Context, key string, all bool) (getResp, error) {
	if isCounterKey(key) || isSetKey(key) && s.cfg.Bug != BugSetLWW {
		return s.readCRDT(ctx, key, all) // crdt.go
	}
	home, fallbacks := s.targets(key)
	r, w := s.q.r, s.q.w
	if all {
		home, fallbacks = s.Replicas(key), nil
		r, w = len(home), len(home)
	}
	oks, _ := s.gather(ctx, home, fallbacks, r, s.queryOp(key))
	if len(oks) < r {
		return getResp{}, api.NotApplied("read %s: %d of %d replicas answered, need %d", key, len(oks), len(home), r)
	}
	best := newest(oks).resp
	if !best.Found || s.cfg.Bug == BugNoWriteBack && !all {
		return best, nil
	}
	// Replicas that already hold best count towards the write quorum; the
	// others are sent best. If best already sits on w replicas, any later
	// read quorum intersects them and no write-back is needed.
	holders := map[string]bool{}
	for _, o := range oks {
		if o.resp.Ver == best.Ver {
			holders[o.id] = true
		}
	}
	if len(holders) >= w {
		return best, nil
	}
	var stale []string
	for _, id := range home {
		if !holders[id] {
			stale = append(stale, id)
		}
	}
	var stray []string
	for _, id := range fallbacks {
		if !holders[id] {
			stray = append(stray, id)
		}
	}
	acks, _ := s.gather(ctx, stale, stray, w-len(holders), s.putOp(entry{Key: key, Value: best.Value, Ver: best.Ver}))
	if len(holders)+len(acks) < w {
		// Not applied: the write-back only spread a value that some write
		// had already stored, so this read changed nothing of its own.
		return getResp{}, api.NotApplied("read %s: write-back left version %s on %d of %d replicas, need %d",
			key, best.Ver, len(holders)+len(acks), len(home), w)
	}
	return best, nil
}

// write stores value under ver at a write quorum. No request is retried: a
// retried write that was in fact applied would be a second, later write.
func (s *Store) write(ctx context.Context, key, value string, ver Version) error {
	home, fallbacks := s.targets(key)
	acks, sent := s.gather(ctx, home, fallbacks, s.q.w, s.putOp(entry{Key: key, Value: value, Ver: ver}))
	switch {
	case len(acks) >= s.q.w:
		return nil
	case !sent:
		return api.NotApplied("write %s: no replica could be reached (need %d)", key, s.q.w)
	default:
		return api.Unknown("write %s: %d of %d replicas acknowledged version %s, need %d", key, len(acks), len(home), ver, s.q.w)
	}
}

// Get is a linearizable (ABD) read; stale=true answers from this node's own
// replica without any quorum, possibly "not found" if it holds no copy.
func (s *Store) Get(ctx context.Context, key string, stale bool) (string, bool, error) {
	if s.closed.Load() {
		return "", false, api.NotApplied("get %s: node closed", key)
	}
	if stale {
		e, ok := s.rep.get(key)
		return e.Value, ok, nil
	}
	r, err := s.read(ctx, key, false)
	if err != nil {
		return "", false, err
	}
	return r.Value, r.Found, nil
}

// Put is the ABD write: learn the highest version from a read quorum, then
// store a higher one at a write quorum.
func (s *Store) Put(ctx context.Context, key, value string) error {
	if s.closed.Load() {
		return api.NotApplied("put %s: node closed", key)
	}
	var seen uint64
	if s.cfg.Bug != BugLWWWallClock {
		home, fallbacks := s.targets(key)
		oks, _ := s.gather(ctx, home, fallbacks, s.q.r, s.queryOp(key))
		if len(oks) < s.q.r {
			return api.NotApplied("put %s: %d of %d replicas answered the version query, need %d", key, len(oks), len(home), s.q.r)
		}
		seen = newest(oks).resp.Ver.Counter
		if s.cfg.Bug == BugVersionFromFirstReply {
			seen = oks[0].resp.Ver.Counter // the bug: the first answer, not the newest
		}
	}
	return s.write(ctx, key, value, s.nextVersion(seen))
}

// CAS reads with a quorum, compares, and writes with a quorum. It is NOT
// linearizable: two CAS operations can both read the same value and both
// succeed, and a write can land between the read and the write. Nothing
// makes the read and the write one atomic step.
func (s *Store) CAS(ctx context.Context, key, from, to string) (api.CASResult, error) {
	if s.closed.Load() {
		return api.CASResult{}, api.NotApplied("cas %s: node closed", key)
	}
	cur, err := s.read(ctx, key, false)
	if err != nil {
		return api.CASResult{}, fmt.Errorf("cas: %w", err) // nothing of its own was written
	}
	if !cur.Found || cur.Value != from {
		return api.CASResult{OK: false, Current: cur.Value, Found: cur.Found}, nil
	}
	if err := s.write(ctx, key, to, s.nextVersion(cur.Ver.Counter)); err != nil {
		return api.CASResult{}, fmt.Errorf("cas %s: %w", key, err)
	}
	return api.CASResult{OK: true}, nil
}

// RepairResult reports an anti-entropy pass.
type RepairResult struct {
	Keys     int      `json:"keys"`     // keys this node holds
	Repaired int      `json:"repaired"` // keys read at every replica with write-back
	Failed   int      `json:"failed"`
	Errors   []string `json:"errors,omitempty"` // the first few failures
}

// Repair is anti-entropy for the keys this node holds: each is read at ALL
// of its replicas and the newest version is written back to every replica
// that lacks it. Run on every node after faults heal, it leaves all replicas
// of every key identical (the same Digest.Values). It fails if a replica of
// some key cannot be reached. Served at POST /internal/quorum/repair.
func (s *Store) Repair(ctx context.Context) (RepairResult, error) {
	if s.closed.Load() {
		return RepairResult{}, api.NotApplied("repair: node closed")
	}
	keys := s.rep.keys()
	res := RepairResult{Keys: len(keys)}
	// Probe every member once: a key whose replica is down fails at once
	// instead of waiting out a timeout per key.
	down := s.unreachable(ctx)
	var mu sync.Mutex
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, k := range keys {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var err error
			if id := firstIn(s.Replicas(k), down); id != "" {
				err = fmt.Errorf("repair %s: replica %s is unreachable: %w", k, id, down[id])
			} else {
				_, err = s.read(ctx, k, true)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed++
				if len(res.Errors) < 10 {
					res.Errors = append(res.Errors, err.Error())
				}
				return
			}
			res.Repaired++
		}()
	}
	wg.Wait()
	if res.Failed > 0 {
		return res, fmt.Errorf("repair: %d of %d keys failed, first: %s", res.Failed, res.Keys, res.Errors[0])
	}
	return res, nil
}

// unreachable returns the members that do not answer a query, with why.
func (s *Store) unreachable(ctx context.Context) map[string]error {
	members := s.cfg.members()
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, id := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, s.cfg.RPCTimeout)
			defer cancel()
			errs[i] = s.call(rctx, id, "get", getReq{}, &getResp{})
		}()
	}
	wg.Wait()
	down := map[string]error{}
	for i, err := range errs {
		if err != nil {
			down[members[i]] = err
		}
	}
	return down
}

func firstIn(ids []string, set map[string]error) string {
	for _, id := range ids {
		if _, ok := set[id]; ok {
			return id
		}
	}
	return ""
}

// Status describes this node; Commit and Applied count the writes its
// replica applied since it opened.
func (s *Store) Status() api.Status {
	st := api.Status{ID: s.cfg.ID, Mode: "quorum", Role: "replica", Bug: s.cfg.Bug,
		Commit: s.rep.applied.Load(), Applied: s.rep.applied.Load()}
	if o, ok := s.cfg.Clock.(interface{ Offset() time.Duration }); ok {
		st.ClockOffset = o.Offset().Milliseconds()
	}
	return st
}

// Digest hashes (key, version, value) over everything this replica holds.
// Replicas hold different key sets by design, so compare Values per key.
func (s *Store) Digest(withValues bool) api.Digest {
	all := sha256.New()
	var vals map[string]string
	if withValues {
		vals = map[string]string{}
	}
	snap := s.rep.snapshot()
	for _, e := range snap {
		one := sha256.New()
		writeField(one, e.Ver.String())
		writeField(one, e.Value)
		sum := one.Sum(nil)
		writeField(all, e.Key)
		all.Write(sum)
		if withValues {
			vals[digestKey(e.Key)] = hex.EncodeToString(sum[:16])
		}
	}
	return api.Digest{ID: s.cfg.ID, Digest: hex.EncodeToString(all.Sum(nil)[:16]),
		Applied: s.rep.applied.Load(), Keys: len(snap), Values: vals}
}

func writeField(h interface{ Write([]byte) (int, error) }, s string) {
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(len(s)))
	h.Write(l[:])
	h.Write([]byte(s))
}

// Close stops serving and flushes the log.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.http.CloseIdleConnections()
	return s.rep.wal.close()
}

// crash stops like SIGKILL: whatever sits in user-space buffers is lost.
func (s *Store) crash() {
	s.closed.Store(true)
	s.http.CloseIdleConnections()
	s.rep.wal.crash()
}
