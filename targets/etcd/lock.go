package etcd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/guard"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
)

// Locks: etcd's concurrency.Mutex over a concurrency.Session, done through
// the JSON gateway step for step as clientv3 (v3.5+) does them:
//
//   - A session is a lease of LockTTL seconds, kept alive every TTL/3. As
//     clientv3's lessor, the client believes its lease valid until TTL after
//     the arrival of the last keepalive answer (the leader counts from
//     when it received the keepalive, earlier: the gap is the unsafety
//     Jepsen's etcd 3.4.3 analysis describes). An answer of TTL 0 (the
//     lease is gone) ends the session.
//   - Acquire puts lock/<name>/<lease id, hex> under the lease if it does
//     not exist yet (a Txn comparing its create revision with 0), and holds
//     the lock once no key of the prefix has a lower create revision: it
//     waits for the deletion of the newest such key by a watch, again and
//     again. Then it checks that its key still exists (a session that
//     expired while waiting has lost it: clientv3's ErrSessionExpired).
//     The fencing token is the key's create revision.
//   - Guarded work ("hold") is done only if the session's deadline lies
//     beyond its end; otherwise the client answers fail and does none.
//   - Release deletes the key.
//
// An acquire or release whose outcome is unknown (info) ends the session:
// its key may or may not be there, and a fresh session's key never shares
// a token with a grant that may still stand.

// DefaultLockTTL is the session lease of the lock workload, in seconds
// (etcd raises a TTL below 1.5 election timeouts to that).
const DefaultLockTTL = 3

// lockPrefix is where lock keys live.
const lockPrefix = "lock/"

// session is one lease kept alive in the background.
type session struct {
	id     int64
	ttl    time.Duration
	cancel context.CancelFunc

	mu       sync.Mutex
	deadline time.Time // the lease is believed valid until then
	gone     bool      // etcd said the lease no longer exists
}

func (s *session) validUntil() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline, !s.gone && time.Now().Before(s.deadline)
}

func (s *session) stop() { s.cancel() }

// locker is a client's lock state: its session and the locks it holds.
type locker struct {
	ttl  int64
	sess *session
	held map[string]heldLock // by lock name
	g    *gateway
	w    *http.Client // watches: streaming answers, no whole-body read
	base string
}

type heldLock struct {
	key string
	rev int64
}

func newLocker(addr string, ttl int64) *locker {
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	return &locker{ttl: ttl, held: map[string]heldLock{}, g: newGateway(addr, 0),
		w: &http.Client{Transport: &http.Transport{}}, base: "http://" + addr}
}

func (l *locker) close() {
	l.dropSession(true) // the run is over for this client: free its locks now
	l.w.CloseIdleConnections()
}

// dropSession stops keeping the lease alive; revoke also revokes it, in
// the background and best effort (otherwise it expires within its TTL, or
// later: a new leader extends every lease), which deletes its keys.
func (l *locker) dropSession(revoke bool) {
	if l.sess == nil {
		return
	}
	l.sess.stop()
	if revoke {
		g, id := l.g, l.sess.id
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = g.call(ctx, "/v3/lease/revoke", map[string]any{"ID": strconv.FormatInt(id, 10)}, nil)
		}()
	}
	l.sess = nil
	clear(l.held)
}

// session returns a live session, granting a new lease if needed.
func (l *locker) session(ctx context.Context) (*session, error) {
	if l.sess != nil {
		if _, ok := l.sess.validUntil(); ok {
			return l.sess, nil
		}
		l.dropSession(false)
	}
	var r struct {
		ID    string `json:"ID"`
		TTL   string `json:"TTL"`
		Error string `json:"error"`
	}
	if err := l.g.call(ctx, "/v3/lease/grant", map[string]any{"TTL": l.ttl}, &r); err != nil {
		return nil, err
	}
	arrived := time.Now()
	id, err1 := strconv.ParseInt(r.ID, 10, 64)
	ttl, err2 := strconv.ParseInt(r.TTL, 10, 64)
	if err := errors.Join(err1, err2); err != nil || r.Error != "" || ttl <= 0 {
		return nil, fmt.Errorf("lease grant answered %+v", r)
	}
	kctx, cancel := context.WithCancel(context.Background())
	s := &session{id: id, ttl: time.Duration(ttl) * time.Second, cancel: cancel, deadline: arrived.Add(time.Duration(ttl) * time.Second)}
	go l.keepAlive(kctx, s)
	l.sess = s
	return s, nil
}

// keepAlive renews the lease every TTL/3 until stopped or the lease is
// gone, as clientv3's lessor: renewals are sent on schedule whether or not
// earlier ones were answered (at most a few in flight), and each answer,
// however late, sets the deadline to its arrival plus the TTL it carries.
func (l *locker) keepAlive(ctx context.Context, s *session) {
	tick := time.NewTicker(s.ttl / 3)
	defer tick.Stop()
	inflight := make(chan struct{}, 3)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case inflight <- struct{}{}:
		default:
			continue
		}
		go func() {
			defer func() { <-inflight }()
			l.renew(ctx, s)
		}()
	}
}

func (l *locker) renew(ctx context.Context, s *session) {
	cctx, cancel := context.WithTimeout(ctx, 2*s.ttl)
	defer cancel()
	var r struct {
		Result struct {
			TTL string `json:"TTL"`
		} `json:"result"`
	}
	if err := l.g.call(cctx, "/v3/lease/keepalive", map[string]any{"ID": strconv.FormatInt(s.id, 10)}, &r); err != nil {
		return
	}
	arrived := time.Now()
	ttl, _ := strconv.ParseInt(r.Result.TTL, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ttl <= 0 {
		s.gone = true
		s.cancel()
		return
	}
	s.deadline = arrived.Add(time.Duration(ttl) * time.Second)
}

// prefixEnd is the end of the range of keys with prefix p.
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

type rangeKV struct {
	Key            string `json:"key"`
	CreateRevision string `json:"create_revision"`
}

func (kv rangeKV) create() int64 {
	n, _ := strconv.ParseInt(kv.CreateRevision, 10, 64)
	return n
}

// acquire takes the lock name (mutex.Lock).
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
		return fail(out, "no session (lease grant): "+err.Error()) // a lease alone locks nothing
	}
	pfx := lockPrefix + name + "/"
	myKey := pfx + strconv.FormatInt(s.id, 16)
	owner := map[string]any{"requestRange": map[string]any{"key": b64(pfx), "range_end": b64(prefixEnd(pfx)),
		"sort_order": "ASCEND", "sort_target": "CREATE", "limit": 1}}
	var r struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
		Succeeded bool `json:"succeeded"`
		Responses []struct {
			ResponseRange struct {
				Kvs []rangeKV `json:"kvs"`
			} `json:"response_range"`
		} `json:"responses"`
	}
	err = l.g.call(ctx, "/v3/kv/txn", map[string]any{
		"compare": []map[string]any{{"key": b64(myKey), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}},
		"success": []map[string]any{{"requestPut": map[string]any{"key": b64(myKey), "value": "", "lease": strconv.FormatInt(s.id, 10)}}, owner},
		"failure": []map[string]any{{"requestRange": map[string]any{"key": b64(myKey)}}, owner},
	}, &r)
	if err != nil {
		if httpcall.NotApplied(err, refusedBeforeProposal) {
			return fail(out, "queueing: "+err.Error())
		}
		l.dropSession(true)
		return info(out, "queueing (the key may be in the queue): "+err.Error())
	}
	var myRev int64
	if r.Succeeded {
		myRev, _ = strconv.ParseInt(r.Header.Revision, 10, 64)
	} else if len(r.Responses) > 0 && len(r.Responses[0].ResponseRange.Kvs) > 0 {
		myRev = r.Responses[0].ResponseRange.Kvs[0].create()
	}
	if myRev == 0 || len(r.Responses) < 2 {
		l.dropSession(true)
		return info(out, fmt.Sprintf("queueing: an answer without the key's revision: %+v", r))
	}
	if ow := r.Responses[1].ResponseRange.Kvs; len(ow) == 0 || ow[0].create() != myRev {
		// Wait, keeping time to take its key out of the queue before the
		// op's deadline if it must give up.
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if d, ok := ctx.Deadline(); ok {
			wctx, cancel = context.WithDeadline(ctx, d.Add(-min(cleanupBudget, time.Until(d)/3)))
		}
		err := l.waitDeletes(wctx, pfx, myRev)
		cancel()
		if err != nil {
			return l.giveUp(ctx, out, myKey, "waiting for the holders before it: "+err.Error())
		}
	}
	// The session may have expired while waiting (clientv3 >= 3.5 checks).
	var mine rangeResp
	if err := l.g.call(ctx, "/v3/kv/range", map[string]any{"key": b64(myKey)}, &mine); err != nil {
		return l.giveUp(ctx, out, myKey, "checking its key: "+err.Error())
	}
	if len(mine.Kvs) == 0 {
		l.dropSession(false)
		return fail(out, "its key is gone: the session expired while it waited")
	}
	l.held[name] = heldLock{key: myKey, rev: myRev}
	done := out.Complete(harness.OK)
	done.Value = harness.Str(strconv.FormatInt(myRev, 10))
	return done
}

// cleanupBudget is the part of an acquire's time kept to delete its key
// when it gives up waiting.
const cleanupBudget = 300 * time.Millisecond

// giveUp: the acquire ends before it knows it holds the lock; as
// clientv3, it deletes its key, in what is left of the op's time (and the
// runner's grace after it). Deleted: fail (it never acted as holder); else
// info (the key may yet make it the holder).
func (l *locker) giveUp(ctx context.Context, out harness.Op, key, why string) harness.Op {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupBudget)
	if d, ok := ctx.Deadline(); ok {
		dctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), d.Add(100*time.Millisecond))
	}
	defer cancel()
	if err := l.g.call(dctx, "/v3/kv/deleterange", map[string]any{"key": b64(key)}, nil); err != nil {
		l.dropSession(true)
		return info(out, why+"; deleting its key failed too: "+err.Error())
	}
	return fail(out, why+" (its key deleted)")
}

// waitDeletes waits until no key of pfx has a create revision below rev:
// for the newest such key, a watch from the range's revision until it is
// deleted; again until there is none (clientv3's waitDeletes).
func (l *locker) waitDeletes(ctx context.Context, pfx string, rev int64) error {
	for {
		var r struct {
			Header struct {
				Revision string `json:"revision"`
			} `json:"header"`
			Kvs []rangeKV `json:"kvs"`
		}
		err := l.g.call(ctx, "/v3/kv/range", map[string]any{"key": b64(pfx), "range_end": b64(prefixEnd(pfx)),
			"max_create_revision": strconv.FormatInt(rev-1, 10), "sort_order": "DESCEND", "sort_target": "CREATE", "limit": 1}, &r)
		if err != nil {
			return err
		}
		if len(r.Kvs) == 0 {
			return nil
		}
		at, _ := strconv.ParseInt(r.Header.Revision, 10, 64)
		if err := l.waitDelete(ctx, unb64(r.Kvs[0].Key), at+1); err != nil {
			return err
		}
	}
}

// waitDelete watches key from revision from until a delete event.
func (l *locker) waitDelete(ctx context.Context, key string, from int64) error {
	body, _ := json.Marshal(map[string]any{"create_request": map[string]any{"key": b64(key), "start_revision": strconv.FormatInt(from, 10)}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+"/v3/watch", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := l.w.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("watch: %s", resp.Status)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var m struct {
			Result struct {
				Canceled bool `json:"canceled"`
				Events   []struct {
					Type string `json:"type"`
				} `json:"events"`
			} `json:"result"`
			Error any `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		if m.Error != nil || m.Result.Canceled {
			return fmt.Errorf("watch ended: %v", m.Error)
		}
		for _, e := range m.Result.Events {
			if e.Type == "DELETE" {
				return nil
			}
		}
	}
}

// hold does guarded work only if the session is believed to last beyond it.
func (l *locker) hold(ctx context.Context, out harness.Op) harness.Op {
	h, ok := l.held[out.Key]
	if !ok || l.sess == nil {
		return fail(out, "this client holds no "+out.Key)
	}
	until, valid := l.sess.validUntil()
	return guard.Work(ctx, out, until, valid, strconv.FormatInt(h.rev, 10))
}

// release deletes the lock's key (mutex.Unlock).
func (l *locker) release(ctx context.Context, out harness.Op) harness.Op {
	h, ok := l.held[out.Key]
	if !ok {
		return fail(out, "this client holds no "+out.Key)
	}
	delete(l.held, out.Key)
	err := l.g.call(ctx, "/v3/kv/deleterange", map[string]any{"key": b64(h.key)}, nil)
	if err == nil {
		return out.Complete(harness.OK)
	}
	if httpcall.NotApplied(err, refusedBeforeProposal) {
		l.held[out.Key] = h // still ours: the workload tries again
		return fail(out, err.Error())
	}
	l.dropSession(true)
	return info(out, err.Error())
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

// lockOp dispatches the lock workload's ops.
func (c *Client) lockOp(ctx context.Context, op harness.Op) harness.Op {
	c.lockMu.Lock()
	defer c.lockMu.Unlock()
	if c.locks == nil {
		c.locks = newLocker(c.addr, c.lockTTL)
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
