package consul

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/guard"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
)

// Locks: Consul's sessions and acquire/release on a key, as its api.Lock
// does them:
//
//   - A session (PUT /v1/session/create) with a TTL (10 s, Consul's
//     least), the agent's serf health check, lock-delay and behavior
//     release, renewed every TTL/2. Consul invalidates a session only after
//     twice its TTL without a renewal; the client believes it valid until
//     one TTL after the arrival of the last renewal's answer, which is
//     within what Consul promises. A renewal answered 404 ends it.
//   - Acquire is one /v1/txn of a `lock` with the session and a `get` of
//     the key, so the LockIndex it reads is this grant's. A lock held by
//     another session rolls it back; the client then waits for the key to
//     change (a blocking query) or, when nobody holds it but the lock-delay
//     of an invalidated session still runs, a moment, and tries again.
//   - The fencing token is the key's LockIndex: Consul increments it on
//     every grant to a new session and on nothing else, so it names a
//     grant and grows with grants. ModifyIndex grows too, but it changes on
//     every write to the key (the release, the holder's own updates): it
//     names a version of the key, not a grant.
//   - Guarded work ("hold") is done only if the session's deadline lies
//     beyond its end.
//   - Release is PUT ?release=<session>.
//
// An acquire or release whose outcome is unknown (info) destroys the
// session: Consul then releases what it held, after the lock-delay.

// Session defaults: Consul's least TTL and its default lock-delay.
const (
	DefaultSessionTTL = 10 * time.Second
	DefaultLockDelay  = 15 * time.Second
)

const lockPrefix = "lock/"

type session struct {
	id     string
	ttl    time.Duration
	cancel context.CancelFunc

	mu       sync.Mutex
	deadline time.Time
	gone     bool
}

func (s *session) validUntil() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline, !s.gone && time.Now().Before(s.deadline)
}

type locker struct {
	a         *api
	ttl       time.Duration
	lockDelay time.Duration
	sess      *session
	held      map[string]uint64 // lock name -> LockIndex of the grant
}

// newLocker: ttl 0 is Consul's least; lockDelay 0 its default, negative
// none.
func newLocker(a *api, ttl, lockDelay time.Duration) *locker {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	switch {
	case lockDelay == 0:
		lockDelay = DefaultLockDelay
	case lockDelay < 0:
		lockDelay = 0
	}
	return &locker{a: a, ttl: ttl, lockDelay: lockDelay, held: map[string]uint64{}}
}

// dropSession stops renewing; destroy also destroys the session in the
// background (best effort: otherwise Consul invalidates it within 2 TTL),
// which releases its locks.
func (l *locker) dropSession(destroy bool) {
	if l.sess == nil {
		return
	}
	l.sess.cancel()
	if destroy {
		a, id := l.a, l.sess.id
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, _, _ = a.do(ctx, http.MethodPut, "/v1/session/destroy/"+id, "")
		}()
	}
	l.sess = nil
	clear(l.held)
}

func (l *locker) session(ctx context.Context) (*session, error) {
	if l.sess != nil {
		if _, ok := l.sess.validUntil(); ok {
			return l.sess, nil
		}
		l.dropSession(true)
	}
	body, _ := json.Marshal(map[string]any{"Name": "gauntlet-lock", "TTL": l.ttl.String(), "LockDelay": l.lockDelay.String(), "Behavior": "release"})
	data, _, err := l.a.do(ctx, http.MethodPut, "/v1/session/create", string(body))
	if err != nil {
		return nil, err
	}
	arrived := time.Now()
	var r struct{ ID string }
	if err := json.Unmarshal(data, &r); err != nil || r.ID == "" {
		return nil, fmt.Errorf("session create answered %q", data)
	}
	kctx, cancel := context.WithCancel(context.Background())
	s := &session{id: r.ID, ttl: l.ttl, cancel: cancel, deadline: arrived.Add(l.ttl)}
	go l.renewLoop(kctx, s)
	l.sess = s
	return s, nil
}

// renewLoop renews every TTL/2 (api.RenewPeriodic's period) until stopped
// or Consul says the session is gone.
func (l *locker) renewLoop(ctx context.Context, s *session) {
	tick := time.NewTicker(s.ttl / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cctx, cancel := context.WithTimeout(ctx, s.ttl/2)
		_, _, err := l.a.do(cctx, http.MethodPut, "/v1/session/renew/"+s.id, "")
		cancel()
		arrived := time.Now()
		if err != nil {
			if ce, ok := err.(*httpcall.Error); ok && ce.Status == http.StatusNotFound {
				s.mu.Lock()
				s.gone = true
				s.mu.Unlock()
				return
			}
			continue
		}
		s.mu.Lock()
		s.deadline = arrived.Add(s.ttl)
		s.mu.Unlock()
	}
}

func lockKey(name string) string { return lockPrefix + name }

// tryLock is one attempt: the grant's LockIndex, or 0 if another session
// holds the lock (or its lock-delay runs).
func (l *locker) tryLock(ctx context.Context, key, sess string) (uint64, error) {
	ops := []map[string]any{
		{"KV": map[string]any{"Verb": "lock", "Key": key, "Session": sess}},
		{"KV": map[string]any{"Verb": "get", "Key": key}},
	}
	body, _ := json.Marshal(ops)
	resp, data, err := l.a.Do(ctx, http.MethodPut, "/v1/txn", strings.NewReader(string(body)), "application/json")
	if err != nil {
		return 0, err
	}
	var ans struct {
		Results []struct {
			KV *struct {
				LockIndex uint64
				Session   string
			}
		}
		Errors []struct{ What string }
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		return 0, &httpcall.Error{Sent: true, Status: resp.StatusCode, Msg: fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return 0, &httpcall.Error{Sent: true, Status: resp.StatusCode, Msg: "decoding the lock's answer: " + err.Error()}
	}
	if resp.StatusCode == http.StatusConflict {
		for _, e := range ans.Errors {
			if !strings.Contains(e.What, "lock is already held") && !strings.Contains(e.What, "due to lock delay") {
				return 0, &httpcall.Error{Sent: true, Status: resp.StatusCode, Msg: "lock refused: " + e.What}
			}
		}
		return 0, nil
	}
	for _, r := range ans.Results {
		if r.KV != nil && r.KV.Session == sess && r.KV.LockIndex > 0 {
			return r.KV.LockIndex, nil
		}
	}
	return 0, &httpcall.Error{Sent: true, Msg: fmt.Sprintf("the lock's answer does not show it held: %s", data)}
}

// waitChange waits until the lock's key changes (a blocking query from
// the index of a first read), within ctx and at most 2 s; if nobody holds
// it, the refusal was a lock-delay, which ends by time, not by a change:
// it waits a moment instead.
func (l *locker) waitChange(ctx context.Context, key string) error {
	path := "/v1/kv/" + url.PathEscape(key)
	var es []lockEntry
	data, index, err := l.a.do(ctx, http.MethodGet, path, "")
	if ce, ok := err.(*httpcall.Error); ok && ce.Status == http.StatusNotFound {
		err = nil
	}
	if err != nil {
		return err
	}
	_ = json.Unmarshal(data, &es)
	wait := 2 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	if wait <= 0 {
		return context.DeadlineExceeded
	}
	if len(es) == 0 || es[0].Session == "" {
		t := time.NewTimer(min(250*time.Millisecond, wait))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	_, _, err = l.a.do(ctx, http.MethodGet, fmt.Sprintf("%s?index=%d&wait=%dms", path, index, wait.Milliseconds()), "")
	if ce, ok := err.(*httpcall.Error); ok && ce.Status == http.StatusNotFound {
		return nil
	}
	return err
}

type lockEntry struct{ Session string }

func (l *locker) acquire(ctx context.Context, out harness.Op) harness.Op {
	name := out.Key
	if _, ok := l.held[name]; ok {
		// Its releases failed and the worker gave up on them: the grant is
		// abandoned. A fresh session queues anew; the old one lapses (or is
		// revoked, if the request gets through), which frees the lock.
		l.dropSession(true)
	}
	s, err := l.session(ctx)
	if err != nil {
		return fail(out, "no session: "+err.Error()) // a session alone locks nothing
	}
	key := lockKey(name)
	for {
		tok, err := l.tryLock(ctx, key, s.id)
		switch {
		case err != nil && httpcall.NotApplied(err, refused):
			return fail(out, "lock: "+err.Error())
		case err != nil:
			l.dropSession(true)
			return info(out, "lock: "+err.Error())
		case tok > 0:
			l.held[name] = tok
			done := out.Complete(harness.OK)
			done.Value = harness.Str(strconv.FormatUint(tok, 10))
			return done
		}
		if err := l.waitChange(ctx, key); err != nil {
			return fail(out, "the lock is held by another session; waiting: "+err.Error())
		}
		if _, ok := s.validUntil(); !ok {
			l.dropSession(true)
			return fail(out, "its session ended while it waited")
		}
	}
}

func (l *locker) hold(ctx context.Context, out harness.Op) harness.Op {
	tok, ok := l.held[out.Key]
	if !ok || l.sess == nil {
		return fail(out, "this client holds no "+out.Key)
	}
	until, valid := l.sess.validUntil()
	return guard.Work(ctx, out, until, valid, strconv.FormatUint(tok, 10))
}

func (l *locker) release(ctx context.Context, out harness.Op) harness.Op {
	tok, ok := l.held[out.Key]
	if !ok || l.sess == nil {
		return fail(out, "this client holds no "+out.Key)
	}
	delete(l.held, out.Key)
	data, _, err := l.a.do(ctx, http.MethodPut, "/v1/kv/"+url.PathEscape(lockKey(out.Key))+"?release="+l.sess.id, "")
	switch {
	case err != nil && httpcall.NotApplied(err, refused):
		l.held[out.Key] = tok // still ours: the workload tries again
		return fail(out, err.Error())
	case err != nil:
		l.dropSession(true)
		return info(out, err.Error())
	case strings.TrimSpace(string(data)) != "true":
		// Not held by this session any more (it was invalidated): nothing
		// to release.
		return fail(out, fmt.Sprintf("Consul answered %s: the session no longer held it", strings.TrimSpace(string(data))))
	}
	return out.Complete(harness.OK)
}

func fail(op harness.Op, why string) harness.Op {
	out := op.Complete(harness.Fail)
	out.Error = why
	return out
}

func info(op harness.Op, why string) harness.Op {
	out := op.Complete(harness.Info)
	out.Error = why
	return out
}

func (c *Client) lockOp(ctx context.Context, op harness.Op) harness.Op {
	c.lockMu.Lock()
	defer c.lockMu.Unlock()
	if c.locks == nil {
		c.locks = newLocker(c.a, c.sessionTTL, c.lockDelay)
	}
	switch op.F {
	case harness.FAcquire:
		return c.locks.acquire(ctx, op)
	case guard.FHold:
		return c.locks.hold(ctx, op)
	default:
		return c.locks.release(ctx, op)
	}
}
