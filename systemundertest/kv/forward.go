package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Followers forward requests to the leader in batches: concurrent requests
// for the same leader share one POST to BatchPath (group commit: a batch
// leaves as soon as the previous one to that leader returned, so a lone
// request waits for nobody). One HTTP exchange per batch instead of per
// request halved the cost of forwarding on a loaded 2-core machine.
//
// Classification is per request: one still queued when its caller gives up
// is withdrawn and certainly not applied; once its batch is being written,
// a transport failure leaves a write unknown.

// BatchPath is where a follower POSTs forwarded requests to the leader.
const BatchPath = "/internal/kv/batch"

// maxForwardBatch bounds the requests in one forwarded batch.
const maxForwardBatch = 256

// maxForwardInFlight is how many batches to one leader may be under way at
// once: with one, a request that just missed a batch waited for that whole
// round trip (leader fsync, replication, apply) before its own could leave.
const maxForwardInFlight = 2

// fwdOp is one forwarded request on the wire.
type fwdOp struct {
	Op    string `json:"op"` // get | put | cas
	Key   string `json:"key"`
	Value string `json:"value,omitempty"` // put value
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	fwdTxn
	fwdLock
	fwdCounter // setctr.go
}

// fwdResult is the leader's answer to one fwdOp, with the status code the
// client API would have used.
type fwdResult struct {
	Status int    `json:"status"`
	Value  string `json:"value,omitempty"`
	Found  bool   `json:"found,omitempty"`
	OK     bool   `json:"ok,omitempty"`
	Error  string `json:"error,omitempty"`
	fwdTxn
	fwdLock
	fwdSet // setctr.go
}

// pending is a request waiting in a batcher.
type pending struct {
	op    fwdOp
	state int // queued, sending, withdrawn (guarded by batcher.mu)
	done  chan fwdOutcome
}

const (
	queued = iota
	sending
	withdrawn
)

type fwdOutcome struct {
	res fwdResult
	err error
}

// batcher gathers requests for one leader.
type batcher struct {
	s      *Store
	leader string

	mu       sync.Mutex
	queue    []*pending
	inFlight int // senders running (at most maxForwardInFlight)
}

func (s *Store) batcherFor(leader string) *batcher {
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	b, ok := s.batchers[leader]
	if !ok {
		b = &batcher{s: s, leader: leader}
		s.batchers[leader] = b
	}
	return b
}

// forwardOp forwards op to leader and returns the leader's result for it;
// err carries the classification when the leader did not answer it.
func (s *Store) forwardOp(ctx context.Context, leader string, op fwdOp) (fwdResult, error) {
	if _, ok := s.cfg.Peers[leader]; !ok {
		return fwdResult{}, api.NotApplied("leader %q has no address in the peer list", leader)
	}
	b := s.batcherFor(leader)
	p := &pending{op: op, done: make(chan fwdOutcome, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.inFlight < maxForwardInFlight {
		b.inFlight++
		go b.run()
	}
	b.mu.Unlock()

	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if p.state == queued {
		p.state = withdrawn // the sender skips it: it is never sent
		b.mu.Unlock()
		return fwdResult{}, api.NotApplied("forward to leader %s: gave up before sending: %v", leader, ctx.Err())
	}
	b.mu.Unlock()
	if op.readOnly() {
		return fwdResult{}, api.NotApplied("forward to leader %s: %v", leader, ctx.Err())
	}
	return fwdResult{}, api.Unknown("forward to leader %s: gave up after sending: %v", leader, ctx.Err())
}

// run sends batches until the queue is empty.
func (b *batcher) run() {
	for {
		b.mu.Lock()
		var batch []*pending
		for len(b.queue) > 0 && len(batch) < maxForwardBatch {
			p := b.queue[0]
			b.queue = b.queue[1:]
			if p.state == queued {
				p.state = sending
				batch = append(batch, p)
			}
		}
		if len(batch) == 0 {
			b.inFlight--
			if b.inFlight == 0 {
				b.queue = nil
			}
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.send(batch)
	}
}

// send posts one batch and completes every request in it.
func (b *batcher) send(batch []*pending) {
	ops := make([]fwdOp, len(batch))
	for i, p := range batch {
		ops[i] = p.op
	}
	results, sent, err := b.s.postBatch(b.leader, ops)
	for i, p := range batch {
		var o fwdOutcome
		switch {
		case err == nil:
			o.res = results[i]
		case !sent || p.op.readOnly() || api.Classify(err) == api.ErrNotApplied:
			o.err = api.NotApplied("forward to leader %s: %v", b.leader, err)
		default:
			o.err = api.Unknown("forward to leader %s after sending: %v", b.leader, err)
		}
		p.done <- o
	}
}

// postBatch sends ops to the leader. sent reports whether the request was
// written completely (from then on the leader may have acted on it); an
// error wrapping api.ErrNotApplied means the leader refused the whole batch.
func (s *Store) postBatch(leader string, ops []fwdOp) (results []fwdResult, sent bool, err error) {
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ForwardTimeout)
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	go func() { // shutting down abandons the batch
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.cfg.Peers[leader]+BatchPath, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set(api.ForwardedHeader, s.cfg.ID)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, wrote.Load(), err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, true, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable, http.StatusBadRequest, http.StatusNotFound:
		return nil, true, api.NotApplied("%s: %s", resp.Status, errorText(data))
	default:
		return nil, true, api.Unknown("%s: %s", resp.Status, errorText(data))
	}
	if err := json.Unmarshal(data, &results); err != nil {
		return nil, true, err
	}
	if len(results) != len(ops) {
		return nil, true, api.Unknown("leader answered %d results for %d requests", len(results), len(ops))
	}
	return results, true, nil
}

// resultError turns a leader's per-request status into the classification.
func resultError(leader string, op fwdOp, r fwdResult) error {
	switch r.Status {
	case http.StatusOK, http.StatusConflict:
		return nil
	case http.StatusServiceUnavailable, http.StatusBadRequest:
		return api.NotApplied("leader %s: %s", leader, r.Error)
	default:
		if op.readOnly() {
			return api.NotApplied("leader %s: %s", leader, r.Error)
		}
		return api.Unknown("leader %s: %s", leader, r.Error)
	}
}

// Handler serves BatchPath on the leader: it runs the forwarded requests
// concurrently (they came from concurrent clients, so no order among them
// is owed) and answers each with the status the client API would give.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != BatchPath || r.Method != http.MethodPost {
			http.Error(w, `{"error":"POST `+BatchPath+` only"}`, http.StatusNotFound)
			return
		}
		var ops []fwdOp
		data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err == nil {
			err = json.Unmarshal(data, &ops)
		}
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad batch: " + err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(api.WithForwarded(r.Context()), s.cfg.ForwardTimeout)
		defer cancel()
		results := make([]fwdResult, len(ops))
		var wg sync.WaitGroup
		for i, op := range ops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = s.serveOp(ctx, op)
			}()
		}
		wg.Wait()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(results)
	})
}

func (s *Store) serveOp(ctx context.Context, op fwdOp) fwdResult {
	var r fwdResult
	var err error
	switch op.Op {
	case "get":
		r.Value, r.Found, err = s.Get(ctx, op.Key, false)
	case "put":
		err = s.Put(ctx, op.Key, op.Value)
	case "txn":
		r, err = s.serveTxn(ctx, op) // txn.go
	case "lock-acquire", "lock-release":
		r, err = s.serveLock(ctx, op) // lock.go
	case fwdSetAdd, fwdSetRead, fwdCounterAdd, fwdCounterRead:
		r, err = s.serveSetCounter(ctx, op) // setctr.go
	case "cas":
		var c api.CASResult
		if c, err = s.CAS(ctx, op.Key, op.From, op.To); err == nil {
			r.OK, r.Value, r.Found = c.OK, c.Current, c.Found
			if !c.OK {
				r.Status = http.StatusConflict
			}
		}
	default:
		return fwdResult{Status: http.StatusBadRequest, Error: "unknown op " + op.Op}
	}
	switch {
	case err == nil && r.Status == 0:
		r.Status = http.StatusOK
	case err != nil && api.Classify(err) == api.ErrNotApplied:
		r = fwdResult{Status: http.StatusServiceUnavailable, Error: err.Error()}
	case err != nil:
		r = fwdResult{Status: http.StatusGatewayTimeout, Error: err.Error()}
	}
	return r
}
