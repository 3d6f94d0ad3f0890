package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// Locks with leases and fencing tokens.
//
// The lock table is part of the state machine: acquire (opcode 4) and
// release (opcode 5) are log entries, and the token of a grant is its log
// index, so tokens are unique and increase in the order of grants. The
// state machine never lets time pass: a lock is free only after a release
// by its holder, or when an acquire names the token of the holder it takes
// over from ("expect"), which the leader proposes only once that holder's
// lease has run out by its own timer. Applied at a log position where the
// lock is no longer as the leader saw it, the acquire is refused (certainly
// not granted), identically on every replica.
//
// Lease timers are each node's own, on its monotonic clock (which the
// clock fault, a step of the wall clock, does not move): a node starts a
// holder's timer when it applies the grant, which is after the holder's
// client sent its acquire, so no timer runs out before the client's
// invoke time + ttl. A node that becomes leader restarts the timer of every
// held lock from its election (as etcd does with leases), and a lock it
// holds no timer for (restored from a snapshot) gets one from now: lease
// expiry never comes early. The client acts as holder only until its
// invoke time + ttl/2 (targets/wire), so its hold has ended before any
// node can take the lock over.

const (
	opLockAcquire byte = 4
	opLockRelease byte = 5
)

// lockPrefix marks the map key that holds a lock's holder.
const lockPrefix = "\x00lock\x00"

// MaxLockTTL bounds a lease; MinLockTTL too.
const (
	MinLockTTL = 10 * time.Millisecond
	MaxLockTTL = 10 * time.Minute
)

// lockState is a held lock as the state machine keeps it.
type lockState struct {
	owner string
	token uint64
	ttl   time.Duration
}

func encodeLockState(l lockState) string {
	b := appendString(nil, l.owner)
	b = binary.AppendUvarint(b, l.token)
	return string(binary.AppendUvarint(b, uint64(l.ttl/time.Millisecond)))
}

func decodeLockState(s string) (lockState, error) {
	r := &reader{b: []byte(s)}
	l := lockState{owner: r.string(), token: r.uvarint(), ttl: time.Duration(r.uvarint()) * time.Millisecond}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	return l, r.err
}

// EncodeLockAcquire encodes "grant name to owner for ttl if it is free, or
// held by the grant expect (0: only if free)".
func EncodeLockAcquire(name, owner string, ttl time.Duration, expect uint64) []byte {
	b := appendString(appendString([]byte{opLockAcquire}, name), owner)
	b = binary.AppendUvarint(b, uint64(ttl/time.Millisecond))
	return binary.AppendUvarint(b, expect)
}

// EncodeLockRelease encodes "free name if owner holds it with token".
func EncodeLockRelease(name, owner string, token uint64) []byte {
	b := appendString(appendString([]byte{opLockRelease}, name), owner)
	return binary.AppendUvarint(b, token)
}

// LockResult is the state machine's answer to a lock entry.
type LockResult struct {
	OK    bool   // granted (its Token) or released
	Token uint64 // the grant's token; when refused, the holder's
	Owner string // when refused: the holder ("" free)
}

// LockHook hears every grant and release the state machine applies (under
// its lock: it must not call the FSM).
type LockHook func(name string, granted bool, l lockState)

// SetLockHook installs the hook (the Store's lease timers).
func (f *FSM) SetLockHook(h LockHook) {
	f.mu.Lock()
	f.lockHook = h
	f.mu.Unlock()
}

// applyLock executes a lock entry (called by Apply with the lock held).
func (f *FSM) applyLock(index uint64, data []byte) any {
	r := &reader{b: data[1:]}
	name, owner := r.string(), r.string()
	var ttl time.Duration
	var arg uint64
	if data[0] == opLockAcquire {
		ttl = time.Duration(r.uvarint()) * time.Millisecond
	}
	arg = r.uvarint()
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("entry %d: decode lock command: %w", index, r.err)
	}
	enc, held := f.data[lockPrefix+name]
	var cur lockState
	if held {
		var err error
		if cur, err = decodeLockState(enc); err != nil {
			return fmt.Errorf("entry %d: lock %s: %w", index, name, err)
		}
	}
	if data[0] == opLockAcquire {
		if held && (arg == 0 || cur.token != arg) {
			return LockResult{Token: cur.token, Owner: cur.owner}
		}
		l := lockState{owner: owner, token: index, ttl: ttl}
		f.data[lockPrefix+name] = encodeLockState(l)
		if f.lockHook != nil {
			f.lockHook(name, true, l)
		}
		return LockResult{OK: true, Token: index}
	}
	if !held || cur.owner != owner || cur.token != arg {
		return LockResult{Token: cur.token, Owner: cur.owner}
	}
	delete(f.data, lockPrefix+name)
	if f.lockHook != nil {
		f.lockHook(name, false, cur)
	}
	return LockResult{OK: true}
}

// Lock reads name's holder from the local state.
func (f *FSM) Lock(name string) (lockState, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	enc, ok := f.data[lockPrefix+name]
	if !ok {
		return lockState{}, false
	}
	l, err := decodeLockState(enc)
	return l, err == nil
}

// leases are a node's lease timers: when each held lock may be taken over.
// local is the lock-local-lease bug's table (lockbugs.go).
type leases struct {
	mu    sync.Mutex
	term  uint64 // the term this node last served locks as leader in
	until map[string]leaseTimer
	local map[string]localLock
	last  uint64 // the bug's last token
}

// initLocks starts the lease timers: the state machine tells of grants.
func (s *Store) initLocks() {
	s.leases.until = map[string]leaseTimer{}
	s.leases.local = map[string]localLock{}
	s.cfg.FSM.SetLockHook(s.lockHook)
}

type leaseTimer struct {
	token    uint64
	ttl      time.Duration
	deadline time.Time
}

// hook is the FSM's LockHook: a grant starts its holder's timer.
func (s *Store) lockHook(name string, granted bool, l lockState) {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	if granted {
		s.leases.until[name] = leaseTimer{token: l.token, ttl: l.ttl, deadline: s.cfg.Env.Now().Add(l.ttl)}
	} else {
		delete(s.leases.until, name)
	}
}

// expired reports whether cur's lease has run out, by this leader's timers,
// and how long is left if not. A new term restarts every timer.
func (s *Store) expired(term uint64, name string, cur lockState) (bool, time.Duration) {
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	now := s.cfg.Env.Now()
	if term != s.leases.term {
		s.leases.term = term
		for n, t := range s.leases.until {
			if d := now.Add(t.ttl); d.After(t.deadline) {
				t.deadline = d
				s.leases.until[n] = t
			}
		}
	}
	t, ok := s.leases.until[name]
	if !ok || t.token != cur.token {
		t = leaseTimer{token: cur.token, ttl: cur.ttl, deadline: now.Add(cur.ttl)}
		s.leases.until[name] = t
	}
	left := t.deadline.Sub(now)
	return left <= 0, left
}

// Acquire grants name to owner for ttl (api.LockStore): the fencing token
// is the grant's log index. Refused (certainly not granted) while another
// holds it and its lease runs.
func (s *Store) Acquire(ctx context.Context, name, owner string, ttl time.Duration) (uint64, error) {
	if ttl < MinLockTTL || ttl > MaxLockTTL {
		return 0, api.NotApplied("lease %s out of [%s, %s]", ttl, MinLockTTL, MaxLockTTL)
	}
	if s.cfg.Bug == raft.BugLockLocalLease {
		return s.acquireLocal(ctx, name, owner, ttl) // lockbugs.go
	}
	op := fwdOp{Op: "lock-acquire", Key: name, fwdLock: fwdLock{Owner: owner, TTLMS: ttl.Milliseconds()}}
	if leader, err := s.lockLeader(ctx); err != nil || leader != s.cfg.ID {
		if err != nil {
			return 0, err
		}
		return s.forwardLock(ctx, leader, op)
	}
	st := s.cfg.Node.Status()
	if st.Role != "leader" {
		return 0, api.NotApplied("not the leader any more (term %d)", st.Term)
	}
	var expect uint64
	if cur, held := s.cfg.FSM.Lock(name); held {
		out, left := s.expired(st.Term, name, cur)
		if !out {
			return 0, api.Refused("%s is held by %s (token %d) for up to %s more", name, cur.owner, cur.token, left.Round(time.Millisecond))
		}
		expect = cur.token
	}
	return s.proposeLock(ctx, EncodeLockAcquire(name, owner, ttl, expect), name)
}

// Release frees name if owner holds it with token (api.LockStore);
// refused if it does not.
func (s *Store) Release(ctx context.Context, name, owner string, token uint64) error {
	if s.cfg.Bug == raft.BugLockLocalLease {
		return s.releaseLocal(ctx, name, owner, token) // lockbugs.go
	}
	op := fwdOp{Op: "lock-release", Key: name, fwdLock: fwdLock{Owner: owner, Token: token}}
	leader, err := s.lockLeader(ctx)
	if err != nil {
		return err
	}
	if leader != s.cfg.ID {
		_, err := s.forwardLock(ctx, leader, op)
		return err
	}
	_, err = s.proposeLock(ctx, EncodeLockRelease(name, owner, token), name)
	return err
}

// lockLeader is the node a lock request goes to: this one when it leads,
// else the leader to forward to; an error when there is none (no leader
// known, or the request was forwarded here and this node no longer leads).
func (s *Store) lockLeader(ctx context.Context) (string, error) {
	if s.closed.Load() {
		return "", api.NotApplied("node is shutting down")
	}
	leader, err := s.leader(ctx)
	if err == nil && leader != s.cfg.ID && api.Forwarded(ctx) {
		err = api.NotApplied("not the leader (leader is %s); forwarded requests are not forwarded again", leader)
	}
	return leader, err
}

func (s *Store) proposeLock(ctx context.Context, cmd []byte, name string) (uint64, error) {
	res, err := s.cfg.Node.Propose(ctx, cmd)
	if err != nil {
		return 0, classify("propose", err)
	}
	switch r := res.(type) {
	case LockResult:
		if !r.OK {
			if r.Owner == "" {
				return 0, api.Refused("%s is not held", name)
			}
			return 0, api.Refused("%s is held by %s (token %d)", name, r.Owner, r.Token)
		}
		return r.Token, nil
	case error:
		return 0, api.NotApplied("apply: %v", r)
	default:
		// Acknowledged without the state machine's answer (only under a
		// bug that acks before applying).
		return 0, api.Unknown("lock: no result from the state machine (%T)", res)
	}
}

// fwdLock is what a forwarded lock request adds (ops "lock-acquire",
// "lock-release") and the leader's answer (the token).
type fwdLock struct {
	Owner string `json:"owner,omitempty"`
	TTLMS int64  `json:"ttl_ms,omitempty"`
	Token uint64 `json:"token,omitempty"`
}

// forwardLock sends a lock request to the leader.
func (s *Store) forwardLock(ctx context.Context, leader string, op fwdOp) (uint64, error) {
	r, err := s.forwardOp(ctx, leader, op)
	if err == nil {
		err = resultError(leader, op, r)
	}
	if err != nil {
		return 0, err
	}
	if r.Status == http.StatusConflict {
		return 0, api.Refused("%s", r.Error)
	}
	return r.Token, nil
}

// serveLock runs a forwarded lock request on the leader.
func (s *Store) serveLock(ctx context.Context, op fwdOp) (fwdResult, error) {
	var token uint64
	var err error
	if op.Op == "lock-acquire" {
		token, err = s.Acquire(ctx, op.Key, op.Owner, time.Duration(op.TTLMS)*time.Millisecond)
	} else {
		err = s.Release(ctx, op.Key, op.Owner, op.Token)
	}
	var refused *api.RefusedError
	if errors.As(err, &refused) {
		return fwdResult{Status: http.StatusConflict, Error: refused.Reason}, nil
	}
	return fwdResult{fwdLock: fwdLock{Token: token}}, err
}
