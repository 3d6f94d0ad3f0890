package kv

import (
	"context"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// The lock bug of raft mode's catalog (raft/lock_bugs.go describes it):
// lock-local-lease keeps the lock table in the leader's memory. The leader
// grants and releases from it at once, without the log; its token is its
// own counter, starting from its commit index. A new leader starts with an
// empty table, so it grants a lock the previous leader's holder still
// holds, and a deposed leader that has not noticed yet goes on granting
// beside the new one.

// localLock is a grant in the bug's table.
type localLock struct {
	owner    string
	token    uint64
	deadline time.Time
}

func (s *Store) acquireLocal(ctx context.Context, name, owner string, ttl time.Duration) (uint64, error) {
	op := fwdOp{Op: "lock-acquire", Key: name, fwdLock: fwdLock{Owner: owner, TTLMS: ttl.Milliseconds()}}
	leader, err := s.lockLeader(ctx)
	if err != nil {
		return 0, err
	}
	if leader != s.cfg.ID {
		return s.forwardLock(ctx, leader, op)
	}
	commit := s.cfg.Node.Status().Commit
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	now := s.cfg.Env.Now()
	if cur, held := s.leases.local[name]; held && now.Before(cur.deadline) {
		return 0, api.Refused("%s is held by %s (token %d) for up to %s more", name, cur.owner, cur.token, cur.deadline.Sub(now).Round(time.Millisecond))
	}
	s.leases.last = max(s.leases.last+1, commit)
	s.leases.local[name] = localLock{owner: owner, token: s.leases.last, deadline: now.Add(ttl)}
	return s.leases.last, nil
}

func (s *Store) releaseLocal(ctx context.Context, name, owner string, token uint64) error {
	op := fwdOp{Op: "lock-release", Key: name, fwdLock: fwdLock{Owner: owner, Token: token}}
	leader, err := s.lockLeader(ctx)
	if err != nil {
		return err
	}
	if leader != s.cfg.ID {
		_, err := s.forwardLock(ctx, leader, op)
		return err
	}
	s.leases.mu.Lock()
	defer s.leases.mu.Unlock()
	if cur, held := s.leases.local[name]; !held || cur.owner != owner || cur.token != token {
		return api.Refused("%s is not held by %s with token %d", name, owner, token)
	}
	delete(s.leases.local, name)
	return nil
}
