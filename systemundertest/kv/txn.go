package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Transactions.
//
// A transaction is one log entry (opcode 3) that the state machine executes
// whole at its log position: its reads see the state the entries before it
// left, plus its own earlier writes, and its writes become visible together
// when the entry is applied. Raft applies entries in one order on every
// replica, so transactions are serializable, and since an entry is
// acknowledged only once applied on the leader, and a read-only transaction
// goes through ReadIndex (leadership confirmed by a majority after it
// began, then every entry committed by then applied), strict serializable.
//
// Read-only transactions do not go through the log: on the leader they wait
// for ReadIndex and then read every key under one lock of the state
// machine, so they see the state after one log position.
//
// Lists live in the same map as registers under a key of their own
// (listKey), as the length-prefixed concatenation of their elements, so an
// append is a copy and a write, and snapshots and digests cover lists with
// no change to their format.
//
// An add that would leave a register below zero, or an add to a register
// that does not hold an integer, refuses the whole transaction: it is
// applied and changes nothing, identically on every replica, and the client
// hears 409 (certainly not applied).

const opTxn byte = 3

// listPrefix marks the map key that holds the list of a key.
const listPrefix = "\x00list\x00"

func listKey(k string) string { return listPrefix + k }

// Micro-op value kinds in an encoded transaction.
const (
	noValue  byte = 0
	hasValue byte = 1
	listRead byte = 2
)

// EncodeTxn encodes a transaction as a log entry.
func EncodeTxn(txn []api.Mop) []byte {
	b := []byte{opTxn}
	b = binary.AppendUvarint(b, uint64(len(txn)))
	for _, m := range txn {
		b = appendString(appendString(b, m.F), m.Key)
		switch {
		case m.Value != nil:
			b = appendString(append(b, hasValue), *m.Value)
		case m.List != nil:
			b = append(b, listRead)
		default:
			b = append(b, noValue)
		}
	}
	return b
}

func decodeTxn(data []byte) ([]api.Mop, error) {
	if len(data) == 0 || data[0] != opTxn {
		return nil, errors.New("not a transaction")
	}
	r := &reader{b: data[1:]}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = errors.New("implausible micro-op count")
	}
	txn := make([]api.Mop, 0, min(n, 1024))
	for i := uint64(0); i < n && r.err == nil; i++ {
		m := api.Mop{F: r.string(), Key: r.string()}
		switch kind := r.byte(); kind {
		case hasValue:
			v := r.string()
			m.Value = &v
		case listRead:
			m.List = []string{}
		case noValue:
		default:
			if r.err == nil {
				r.err = fmt.Errorf("unknown value kind %d", kind)
			}
		}
		txn = append(txn, m)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode transaction: %w", r.err)
	}
	return txn, nil
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errors.New("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// TxnResult is what the state machine answers for a transaction entry: the
// micro-ops with their reads filled in, or why it refused the whole.
type TxnResult struct {
	Txn     []api.Mop
	Refused string
}

// execTxn runs txn against the state get reads, without changing it: it
// returns the micro-ops with their reads filled in and the map entries to
// set, or why the transaction must be refused as a whole.
func execTxn(get func(string) (string, bool), txn []api.Mop) (out []api.Mop, writes map[string]string, refused string) {
	writes = map[string]string{}
	cur := func(k string) (string, bool) {
		if v, ok := writes[k]; ok {
			return v, true
		}
		return get(k)
	}
	out = make([]api.Mop, len(txn))
	for i, m := range txn {
		out[i] = m
		switch m.F {
		case api.MRead:
			if m.List != nil {
				enc, _ := cur(listKey(m.Key))
				out[i].List = decodeList(enc)
				continue
			}
			if v, ok := cur(m.Key); ok {
				out[i].Value = &v
			}
		case api.MWrite:
			writes[m.Key] = *m.Value
		case api.MAppend:
			enc, _ := cur(listKey(m.Key))
			writes[listKey(m.Key)] = string(appendString([]byte(enc), *m.Value))
		case api.MAdd:
			delta, err := strconv.ParseInt(*m.Value, 10, 64)
			if err != nil {
				return nil, nil, fmt.Sprintf("add %s %s: not an integer", m.Key, *m.Value)
			}
			var n int64
			if v, ok := cur(m.Key); ok {
				if n, err = strconv.ParseInt(v, 10, 64); err != nil {
					return nil, nil, fmt.Sprintf("add %s: it holds %q, not an integer", m.Key, v)
				}
			}
			if n+delta < 0 {
				return nil, nil, fmt.Sprintf("add %s %s: it holds %d, and would fall below zero", m.Key, *m.Value, n)
			}
			writes[m.Key] = strconv.FormatInt(n+delta, 10)
		default:
			return nil, nil, fmt.Sprintf("unknown micro-op %q", m.F)
		}
	}
	return out, writes, ""
}

// decodeList reads a list's encoding; a torn one (which the state machine
// never writes) reads as far as it is whole.
func decodeList(enc string) []string {
	r := &reader{b: []byte(enc)}
	out := []string{}
	for len(r.b) > 0 {
		s := r.string()
		if r.err != nil {
			break
		}
		out = append(out, s)
	}
	return out
}

// applyTxn executes a transaction entry at its log position (called by
// Apply with the lock held).
func (f *FSM) applyTxn(data []byte) any {
	txn, err := decodeTxn(data)
	if err != nil {
		return err
	}
	out, writes, refused := execTxn(func(k string) (string, bool) { v, ok := f.data[k]; return v, ok }, txn)
	if refused != "" {
		return TxnResult{Refused: refused}
	}
	for k, v := range writes {
		f.data[k] = v
	}
	return TxnResult{Txn: out}
}

// ReadTxn runs txn against the local state, as of one log position,
// without changing it: a read-only transaction once ReadIndex allows it.
func (f *FSM) ReadTxn(txn []api.Mop) (out []api.Mop, writes map[string]string, refused string) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return execTxn(func(k string) (string, bool) { v, ok := f.data[k]; return v, ok }, txn)
}

// Txn applies a transaction atomically (api.TxnStore).
func (s *Store) Txn(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	if s.closed.Load() {
		return nil, api.NotApplied("node is shutting down")
	}
	if out, err, done := s.txnBug(ctx, txn); done {
		return out, err
	}
	if api.ReadOnly(txn) {
		return s.readTxn(ctx, txn)
	}
	return s.proposeTxn(ctx, txn)
}

// proposeTxn puts the transaction in the log, on the leader or through it.
func (s *Store) proposeTxn(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	op := fwdOp{Op: "txn", fwdTxn: fwdTxn{Txn: txn}}
	res, err := s.write(ctx, EncodeTxn(txn), func(leader string) (any, error) {
		r, err := s.forwardOp(ctx, leader, op)
		if err == nil {
			err = resultError(leader, op, r)
		}
		if err != nil {
			return nil, err
		}
		if r.Status == http.StatusConflict {
			return TxnResult{Refused: r.Error}, nil
		}
		return TxnResult{Txn: r.Txn}, nil
	})
	if err != nil {
		return nil, err
	}
	r, ok := res.(TxnResult)
	switch {
	case !ok:
		// Raft acknowledged without the state machine's answer (only under a
		// bug that acks before applying): what the reads saw is not known.
		return nil, api.Unknown("transaction: no result from the state machine (%T)", res)
	case r.Refused != "":
		return nil, api.Refused("%s", r.Refused)
	case len(r.Txn) != len(txn):
		return nil, api.Unknown("transaction: %d micro-ops answered for %d", len(r.Txn), len(txn))
	}
	return r.Txn, nil
}

// readTxn serves a read-only transaction as Get serves a read: on the
// leader after ReadIndex, else through the leader.
func (s *Store) readTxn(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	var out []api.Mop
	r, forwarded, err := s.linearRead(ctx, fwdOp{Op: "txn", fwdTxn: fwdTxn{Txn: txn}}, func() { out, _, _ = s.cfg.FSM.ReadTxn(txn) })
	if err != nil {
		return nil, err
	}
	if forwarded {
		out = r.Txn
	}
	if len(out) != len(txn) {
		return nil, api.NotApplied("%d micro-ops answered for %d", len(out), len(txn))
	}
	return out, nil
}

// fwdTxn is what a forwarded transaction adds to a forwarded request (op
// "txn") and to the leader's answer (the micro-ops, reads filled in).
type fwdTxn struct {
	Txn []api.Mop `json:"txn,omitempty"`
}

// readOnly: the forwarded request changes nothing, so any failure of it is
// certainly not applied.
func (op fwdOp) readOnly() bool {
	return op.Op == "get" || (op.Op == "txn" && api.ReadOnly(op.Txn)) || isSetCounterRead(op.Op)
}

// serveTxn runs a forwarded transaction on the leader; a refusal is
// answered 409 with its reason.
func (s *Store) serveTxn(ctx context.Context, op fwdOp) (fwdResult, error) {
	out, err := s.Txn(ctx, op.Txn)
	var refused *api.RefusedError
	if errors.As(err, &refused) {
		return fwdResult{Status: http.StatusConflict, Error: refused.Reason}, nil
	}
	return fwdResult{fwdTxn: fwdTxn{Txn: out}}, err
}
