package kv

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// The transaction bugs of raft mode's catalog (raft/txn_bugs.go describes
// each). txnBug carries out txn the buggy way when s runs one of them and
// reports done; otherwise the correct path in txn.go runs.
func (s *Store) txnBug(ctx context.Context, txn []api.Mop) (out []api.Mop, err error, done bool) {
	switch s.cfg.Bug {
	case raft.BugTxnLocalRead:
		if !api.ReadOnly(txn) {
			return nil, nil, false
		}
		out, _, _ = s.cfg.FSM.ReadTxn(txn)
		return out, nil, true
	case raft.BugTxnKeyByKey:
		out, err = s.txnKeyByKey(ctx, txn)
		return out, err, true
	case raft.BugTxnBlindWrite:
		if api.ReadOnly(txn) {
			return nil, nil, false
		}
		out, err = s.txnBlindWrite(ctx, txn)
		return out, err, true
	case raft.BugTxnWriteSkew:
		if api.ReadOnly(txn) {
			return nil, nil, false
		}
		out, err = s.txnWriteSkew(ctx, txn)
		return out, err, true
	}
	return nil, nil, false
}

// txnKeyByKey runs each micro-op as a transaction of its own: a read
// through ReadIndex, a write through the log.
func (s *Store) txnKeyByKey(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	out := make([]api.Mop, len(txn))
	wrote := false
	for i, m := range txn {
		var one []api.Mop
		var err error
		if m.IsRead() {
			one, err = s.readTxn(ctx, []api.Mop{m})
		} else {
			one, err = s.proposeTxn(ctx, []api.Mop{m})
		}
		if err != nil {
			if wrote && !errors.Is(err, api.ErrUnknown) {
				// Part of it is applied: its outcome is unknown.
				return nil, api.Unknown("micro-op %d of %d: %v (the ones before it were applied)", i+1, len(txn), err)
			}
			return nil, err
		}
		wrote = wrote || !m.IsRead()
		out[i] = one[0]
	}
	return out, nil
}

// txnBlindWrite executes the transaction on the leader against its state
// (once ReadIndex allows) and proposes what it computed as plain writes,
// with no check at commit that the state it read is still the state it
// writes over.
func (s *Store) txnBlindWrite(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	if leads, err := s.leads(ctx); !leads || err != nil {
		return s.proposeTxn(ctx, txn) // forwarded whole: the leader runs it
	}
	if err := s.cfg.Node.ReadIndex(ctx); err != nil {
		return nil, classify("read index", err)
	}
	out, writes, refused := s.cfg.FSM.ReadTxn(txn)
	if refused != "" {
		return nil, api.Refused("%s", refused)
	}
	blind := make([]api.Mop, 0, len(writes))
	for k, v := range writes {
		blind = append(blind, api.Mop{F: api.MWrite, Key: k, Value: &v})
	}
	slices.SortFunc(blind, func(a, b api.Mop) int { return strings.Compare(a.Key, b.Key) })
	if _, err := s.proposeTxn(ctx, blind); err != nil {
		return nil, err
	}
	return out, nil
}

// leads tells whether this node leads (else, or on error, the caller
// forwards: proposeTxn refuses what it may not forward).
func (s *Store) leads(ctx context.Context) (bool, error) {
	leader, err := s.leader(ctx)
	return leader == s.cfg.ID, err
}

// txnWriteSkew is snapshot isolation taken for serializability: the
// leader locks the keys the transaction writes, reads from its state once
// ReadIndex allows, then puts only the writes in the log. Transactions that
// write a common key take turns, but nothing stops two that each read what
// the other writes.
func (s *Store) txnWriteSkew(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	if leads, err := s.leads(ctx); !leads || err != nil {
		return s.proposeTxn(ctx, txn) // forwarded whole: the leader runs it
	}
	var keys []string
	var writes []api.Mop
	for _, m := range txn {
		if !m.IsRead() {
			keys = append(keys, m.Key)
			writes = append(writes, m)
		}
	}
	unlock, err := s.txnLocks.lock(ctx, keys)
	if err != nil {
		return nil, api.NotApplied("lock: %v", err)
	}
	defer unlock()
	if err := s.cfg.Node.ReadIndex(ctx); err != nil {
		return nil, classify("read index", err)
	}
	out, _, refused := s.cfg.FSM.ReadTxn(txn)
	if refused != "" {
		return nil, api.Refused("%s", refused)
	}
	if _, err := s.proposeTxn(ctx, writes); err != nil {
		return nil, err
	}
	return out, nil
}

// keyLocks are the write locks of txn-write-skew, one per key. The zero
// value is ready.
type keyLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when released
}

// lock takes the locks of keys in key order (so two transactions never wait
// for each other in a circle) and returns their release.
func (l *keyLocks) lock(ctx context.Context, keys []string) (unlock func(), err error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var mine []chan struct{}
	release := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, ch := range mine {
			delete(l.held, keys[i])
			close(ch)
		}
	}
	for _, k := range keys {
		for {
			l.mu.Lock()
			if l.held == nil {
				l.held = map[string]chan struct{}{}
			}
			busy, taken := l.held[k]
			if !taken {
				ch := make(chan struct{})
				l.held[k] = ch
				mine = append(mine, ch)
				l.mu.Unlock()
				break
			}
			l.mu.Unlock()
			select {
			case <-busy:
			case <-ctx.Done():
				release()
				return nil, ctx.Err()
			}
		}
	}
	return release, nil
}
