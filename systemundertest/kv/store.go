// Package kv is kvnode's raft mode: the key-value state machine (FSM) that
// raft replicates, and the api.Store the HTTP server calls.
//
// # Writes
//
// Put and CAS are proposed to raft on the leader and answered once the entry
// is committed and applied, with the state machine's result (a CAS decides
// against the state at its log position). A follower forwards the request
// over HTTP to the leader's address from the peers map (the same address
// raft uses, so the harness's proxies see it too), batched with concurrent
// ones (forward.go) and marked with api.ForwardedHeader so that the leader
// never forwards it again.
//
// Classification, which the harness's correctness depends on:
//   - not applied (503): no leader known; raft refused before proposing
//     (ErrNotLeader, ErrStopped); a forwarded request reached a node that is
//     no longer leader; the forward failed before the request was written
//     (dial refused, no connection) or the caller gave up while it was still
//     queued for the next batch; the leader itself answered 503.
//   - unknown (504): raft proposed the entry but could not see it commit
//     (ErrUnknownOutcome: leadership lost, timeout, shutdown); the forward
//     failed after the request was written (timeout, reset, bad response);
//     the leader answered 504 or anything unexpected.
//
// # Reads
//
// Reads are linearizable by default through raft's ReadIndex, not through
// the log: the leader records its commit index, confirms with a heartbeat
// round that a majority still follows it (so no newer leader can have
// committed anything), waits until its state machine has applied that
// index, then reads locally. This costs one heartbeat round instead of a log
// append and fsync per read. A follower forwards reads to the leader. A read
// with stale=true is served from the local state machine of whichever node
// received it. Failed reads changed nothing, whatever their status code.
//
// Bug "stale-read" serves every read locally on whatever node got it, with no
// ReadIndex and no forwarding: a partitioned old leader or a lagging
// follower answers with old values.
package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// BugStaleRead is the bug the kv layer implements itself; raft's bugs are
// implemented by the raft core.
const BugStaleRead = "stale-read"

// Config configures a Store.
type Config struct {
	ID    string
	Peers map[string]string // id -> address (host:port) for forwarding
	Node  raft.NodeAPI
	FSM   *FSM
	Bug   string
	Clock *clock.Skewable // reported in Status; may be nil
	// LeaderWait is how long a request waits for a leader to become known
	// before answering "not applied" (0 = 1s; bounded by the request context).
	LeaderWait time.Duration
	// ForwardTimeout bounds a forwarded request (0 = 5s; bounded by the
	// request context).
	ForwardTimeout time.Duration
	Logger         *slog.Logger
	// Env is the node's network (forwarding) and timers (nil = the OS's).
	Env env.Env
}

// Store is the raft-mode api.Store.
type Store struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger

	stop     chan struct{}
	done     chan struct{}
	fwdMu    sync.Mutex
	batchers map[string]*batcher // leader id -> its forwarding batcher
	closeOne sync.Once
	closed   atomic.Bool
	txnLocks keyLocks // txn-write-skew's (txnbugs.go)
	leases   leases   // lock lease timers (lock.go)
	ctrIDs   idSet    // incr-dedup-in-memory's (setctr.go)
}

var _ api.Store = (*Store)(nil)

// NewStore returns the store and starts a watcher that logs raft role,
// term and leader changes.
func NewStore(cfg Config) *Store {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LeaderWait <= 0 {
		cfg.LeaderWait = time.Second
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = 5 * time.Second
	}
	if cfg.Env == nil {
		cfg.Env = env.OS()
	}
	tr := &http.Transport{
		DialContext:         env.Dialer(cfg.Env, time.Second),
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}
	s := &Store{
		cfg:      cfg,
		http:     &http.Client{Transport: tr},
		log:      cfg.Logger,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		batchers: map[string]*batcher{},
	}
	s.initLocks()
	go s.watch()
	return s
}

// watch logs each change of leader as this node observes it (raft logs its
// own role and term changes), so a node's log says who led when.
func (s *Store) watch() {
	defer close(s.done)
	t := s.cfg.Env.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var last raft.Status
	for {
		select {
		case <-s.stop:
			return
		case <-t.C():
		}
		st := s.cfg.Node.Status()
		if st.Leader != last.Leader {
			s.log.Info("leader changed", "leader", st.Leader, "previous", last.Leader, "term", st.Term,
				"role", st.Role, "commit", st.Commit, "applied", st.Applied)
			last = st
		}
	}
}

// Put writes key=value through raft.
func (s *Store) Put(ctx context.Context, key, value string) error {
	op := fwdOp{Op: "put", Key: key, Value: value}
	_, err := s.write(ctx, EncodePut(key, value), func(leader string) (any, error) {
		r, err := s.forwardOp(ctx, leader, op)
		if err == nil {
			err = resultError(leader, op, r)
		}
		return nil, err
	})
	return err
}

// CAS sets key to to if it holds from, through raft.
func (s *Store) CAS(ctx context.Context, key, from, to string) (api.CASResult, error) {
	op := fwdOp{Op: "cas", Key: key, From: from, To: to}
	res, err := s.write(ctx, EncodeCAS(key, from, to), func(leader string) (any, error) {
		r, err := s.forwardOp(ctx, leader, op)
		if err == nil {
			err = resultError(leader, op, r)
		}
		if err != nil {
			return nil, err
		}
		if r.Status == http.StatusConflict {
			return api.CASResult{OK: false, Current: r.Value, Found: r.Found}, nil
		}
		return api.CASResult{OK: r.OK}, nil
	})
	if err != nil {
		return api.CASResult{}, err
	}
	switch r := res.(type) {
	case api.CASResult:
		return r, nil
	case nil:
		// Raft acknowledged without a state-machine result (only under a bug
		// that acks before applying): the entry is in the log and will swap.
		return api.CASResult{OK: true}, nil
	default:
		return api.CASResult{}, api.Unknown("cas: unexpected result %T", res)
	}
}

// write proposes cmd on the leader, or forwards to the leader with fwd.
func (s *Store) write(ctx context.Context, cmd []byte, fwd func(leader string) (any, error)) (any, error) {
	if s.closed.Load() {
		return nil, api.NotApplied("node is shutting down")
	}
	leader, err := s.leader(ctx)
	if err != nil {
		return nil, err
	}
	if leader != s.cfg.ID {
		if api.Forwarded(ctx) {
			return nil, api.NotApplied("not the leader (leader is %s); forwarded requests are not forwarded again", leader)
		}
		return fwd(leader)
	}
	res, err := s.cfg.Node.Propose(ctx, cmd)
	if err != nil {
		if errors.Is(err, raft.ErrNotLeader) && !api.Forwarded(ctx) {
			// Leadership moved between Status and Propose; nothing was
			// proposed, so one forward to the new leader is safe.
			if l := s.cfg.Node.Status().Leader; l != "" && l != s.cfg.ID {
				return fwd(l)
			}
		}
		return nil, classify("propose", err)
	}
	if e, ok := res.(error); ok {
		// Deterministic on every replica: the entry was applied and changed nothing.
		return nil, api.NotApplied("apply: %v", e)
	}
	return res, nil
}

// Get reads key: linearizable through ReadIndex on the leader unless stale.
func (s *Store) Get(ctx context.Context, key string, stale bool) (string, bool, error) {
	if stale || s.cfg.Bug == BugStaleRead {
		v, ok := s.cfg.FSM.Get(key)
		return v, ok, nil
	}
	var v string
	var found bool
	r, forwarded, err := s.linearRead(ctx, fwdOp{Op: "get", Key: key}, func() { v, found = s.cfg.FSM.Get(key) })
	if err != nil {
		return "", false, err
	}
	if forwarded {
		return r.Value, r.Found, nil
	}
	return v, found, nil
}

// linearRead serves a read linearizably: on the leader, local runs once
// ReadIndex allows; elsewhere op goes to the leader, whose answer is r
// (forwarded). Any failure is certainly not applied: a read changes nothing.
func (s *Store) linearRead(ctx context.Context, op fwdOp, local func()) (r fwdResult, forwarded bool, err error) {
	if s.closed.Load() {
		return r, false, api.NotApplied("node is shutting down")
	}
	leader, err := s.leader(ctx)
	if err != nil {
		return r, false, err
	}
	if leader == s.cfg.ID {
		err = s.cfg.Node.ReadIndex(ctx)
		if err == nil {
			local()
			return r, false, nil
		}
		if !errors.Is(err, raft.ErrNotLeader) || api.Forwarded(ctx) {
			return r, false, classify("read index", err)
		}
		if leader = s.cfg.Node.Status().Leader; leader == "" || leader == s.cfg.ID {
			return r, false, classify("read index", err)
		}
	} else if api.Forwarded(ctx) {
		return r, false, api.NotApplied("not the leader (leader is %s); forwarded requests are not forwarded again", leader)
	}
	r, err = s.forwardOp(ctx, leader, op)
	if err == nil {
		err = resultError(leader, op, r)
	}
	return r, true, err
}

// leader returns the current leader's id, waiting up to LeaderWait for one
// to be known (elections take a few hundred milliseconds).
func (s *Store) leader(ctx context.Context) (string, error) {
	deadline := s.cfg.Env.Now().Add(s.cfg.LeaderWait)
	for {
		st := s.cfg.Node.Status()
		if st.Role == "leader" {
			return s.cfg.ID, nil
		}
		if st.Leader != "" && st.Leader != s.cfg.ID {
			return st.Leader, nil
		}
		if s.cfg.Env.Now().After(deadline) {
			return "", api.NotApplied("no leader known (term %d, role %s)", st.Term, st.Role)
		}
		select {
		case <-ctx.Done():
			return "", api.NotApplied("no leader known (term %d, role %s): %v", st.Term, st.Role, ctx.Err())
		case <-s.stop:
			return "", api.NotApplied("node is shutting down")
		case <-env.After(s.cfg.Env, 10*time.Millisecond):
		}
	}
}

// classify maps raft's errors to the api classification.
func classify(op string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrStopped):
		return api.NotApplied("%s: %v", op, err)
	case errors.Is(err, api.ErrNotApplied), errors.Is(err, api.ErrUnknown):
		return fmt.Errorf("%s: %w", op, err)
	default:
		return api.Unknown("%s: %v", op, err)
	}
}

func errorText(data []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return e.Error
	}
	return string(bytes.TrimSpace(data))
}

// Status reports raft's view of this node.
func (s *Store) Status() api.Status {
	st := s.cfg.Node.Status()
	out := api.Status{
		ID: s.cfg.ID, Mode: "raft", Role: st.Role, Term: st.Term, Leader: st.Leader,
		Commit: st.Commit, Applied: st.Applied, Bug: s.cfg.Bug,
	}
	if s.cfg.Clock != nil {
		out.ClockOffset = s.cfg.Clock.Offset().Milliseconds()
	}
	return out
}

// Digest hashes the applied state; Applied is the index of the last applied
// command, which the hash covers.
func (s *Store) Digest(withValues bool) api.Digest {
	d, idx, n, vals := s.cfg.FSM.Digest(withValues)
	return api.Digest{ID: s.cfg.ID, Digest: d, Applied: idx, Keys: n, Values: vals}
}

// Close stops the watcher and the raft node. The caller closes the
// transport and the storage afterwards.
func (s *Store) Close() error {
	s.closeOne.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		<-s.done
		s.cfg.Node.Stop()
		s.http.CloseIdleConnections()
	})
	return nil
}
