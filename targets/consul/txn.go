package consul

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
	"github.com/gauntlet-dev/gauntlet/targets/internal/txnplan"
)

// Transactions (list-append, rw-register, bank) through Consul's /v1/txn,
// by the method of targets/internal/txnplan: one read-only transaction of
// `get-or-empty` ops reads every key the transaction depends on from one
// state of the store (Consul serves a transaction without writes as a read,
// in the read mode of --consul-read-mode); a second transaction, applied
// through Raft, sets every write guarded by `check-index` (the ModifyIndex
// read) or `check-not-exists` for each key read. A guard that fails rolls
// the whole back (409) and the transaction starts again. A list is a JSON
// array of strings under list/<key>; a register is its key.
//
// What Consul promises: writes through Raft are linearizable; reads are
// what the read mode says (consistent: the leader confirms its leadership
// with a quorum first; default: the leader answers from its state, stale in
// a window around leader changes; stale: any server, arbitrarily stale).
// Each read-only transaction sees one committed prefix of the log, and
// every read-write one is validated at its commit, so transactions are
// serializable in every mode, and strict serializable only with consistent
// reads. Consistency says so.

var (
	_ harness.FeatureSystem     = (*System)(nil)
	_ harness.FeatureGap        = (*System)(nil)
	_ harness.ConsistencySystem = (*System)(nil)
)

// Features: the transactional ones, locks (lock.go), sets and counters
// (setctr.go).
func (s *System) Features() []harness.Feature {
	return []harness.Feature{harness.FeatureTxnAppend, harness.FeatureTxnRW, harness.FeatureTxnAdd, harness.FeatureLock,
		harness.FeatureSet, harness.FeatureCounter}
}

// Lacks: nothing to say yet about the features Consul does not offer.
func (s *System) Lacks(harness.Feature) string { return "" }

// Consistency: strict serializable with consistent reads; serializable
// with the default and stale modes, whose read-only transactions may miss
// a write that completed before they began.
func (s *System) Consistency() string {
	if s.o.ReadMode == ReadConsistent {
		return "strict-serializable"
	}
	return "serializable"
}

// txnKVOp is one KV operation of /v1/txn.
type txnKVOp struct {
	Verb  string
	Key   string
	Value []byte `json:",omitempty"` // base64 in JSON, as Consul wants
	Index uint64 `json:",omitempty"`
}

type txnOp struct{ KV txnKVOp }

type txnAnswer struct {
	Results []struct {
		KV *struct {
			Key         string
			Value       []byte
			ModifyIndex uint64
		}
	}
	Errors []struct {
		OpIndex int
		What    string
	}
}

// txnStore is the Store of txnplan on one agent.
type txnStore struct{ c *Client }

// call sends one transaction. A 409 (rolled back) comes back as the
// answer with its Errors, not as an error.
func (s txnStore) call(ctx context.Context, query string, ops []txnOp) (txnAnswer, error) {
	var ans txnAnswer
	body, err := json.Marshal(ops)
	if err != nil {
		return ans, &httpcall.Error{Msg: err.Error()}
	}
	resp, data, err := s.c.a.Do(ctx, http.MethodPut, "/v1/txn"+query, bytes.NewReader(body), "application/json")
	if err != nil {
		return ans, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusConflict {
		return ans, &httpcall.Error{Sent: true, Status: resp.StatusCode,
			Msg: fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(data)))}
	}
	if err := json.Unmarshal(data, &ans); err != nil {
		return ans, &httpcall.Error{Sent: true, Status: resp.StatusCode, Msg: "decoding the transaction's answer: " + err.Error()}
	}
	if resp.StatusCode == http.StatusConflict && len(ans.Errors) == 0 {
		return ans, &httpcall.Error{Sent: true, Status: resp.StatusCode, Msg: "409 Conflict without errors: " + strings.TrimSpace(string(data))}
	}
	return ans, nil
}

// Read: one read-only transaction, of a get-or-empty per slot (a plain get
// fails the transaction on an absent key).
func (s txnStore) Read(ctx context.Context, slots []txnplan.Slot) (map[txnplan.Slot]txnplan.Stored, error) {
	out := map[txnplan.Slot]txnplan.Stored{}
	if len(slots) == 0 {
		return out, nil
	}
	ops := make([]txnOp, len(slots))
	for i, sl := range slots {
		ops[i] = txnOp{txnKVOp{Verb: "get-or-empty", Key: sl.Name()}}
	}
	query := ""
	if s.c.mode != ReadDefault {
		query = "?" + s.c.mode
	}
	ans, err := s.call(ctx, query, ops)
	if err != nil {
		return nil, err
	}
	if len(ans.Errors) > 0 {
		return nil, fmt.Errorf("the read transaction was refused: %s", ans.Errors[0].What)
	}
	if len(ans.Results) != len(slots) {
		return nil, fmt.Errorf("Consul answered %d results for %d keys read", len(ans.Results), len(slots))
	}
	for i, sl := range slots {
		kv := ans.Results[i].KV
		if kv == nil || kv.Key != sl.Name() {
			return nil, fmt.Errorf("result %d is not the key %s read", i, sl.Name())
		}
		st := txnplan.Stored{}
		if kv.ModifyIndex != 0 { // an absent key comes back as the op itself, index 0
			st = txnplan.Stored{Value: string(kv.Value), Exists: true, Version: kv.ModifyIndex}
		}
		out[sl] = st
	}
	return out, nil
}

// guardFailed: the errors of a rolled-back transaction are all failed
// guards (a key read changed since).
func guardFailed(ans txnAnswer) bool {
	for _, e := range ans.Errors {
		if !strings.Contains(e.What, "failed index check") && !strings.Contains(e.What, "failed to check index") &&
			!strings.Contains(e.What, "exists") {
			return false
		}
	}
	return len(ans.Errors) > 0
}

// Commit: one transaction, through Raft, of guards then sets.
func (s txnStore) Commit(ctx context.Context, read map[txnplan.Slot]txnplan.Stored, writes map[txnplan.Slot]string) (bool, error) {
	var ops []txnOp
	for _, sl := range txnplan.Sorted(read) {
		if st := read[sl]; st.Exists {
			ops = append(ops, txnOp{txnKVOp{Verb: "check-index", Key: sl.Name(), Index: st.Version}})
		} else {
			ops = append(ops, txnOp{txnKVOp{Verb: "check-not-exists", Key: sl.Name()}})
		}
	}
	for _, sl := range txnplan.Sorted(writes) {
		ops = append(ops, txnOp{txnKVOp{Verb: "set", Key: sl.Name(), Value: []byte(writes[sl])}})
	}
	ans, err := s.call(ctx, "", ops)
	switch {
	case err != nil:
		return false, err
	case len(ans.Errors) == 0:
		return true, nil
	case guardFailed(ans):
		return false, nil
	}
	// Rolled back for another reason: nothing written, and trying again
	// would not help.
	return false, &httpcall.Error{Sent: true, Status: http.StatusConflict, Msg: "Consul rolled the transaction back: " + ans.Errors[0].What}
}

// NotApplied: never sent, refused (4xx, including a rollback), or no
// leader known.
func (s txnStore) NotApplied(err error) bool { return httpcall.NotApplied(err, refused) }

// txn performs a transaction op.
func (c *Client) txn(ctx context.Context, op harness.Op) harness.Op {
	return txnplan.Run(ctx, txnStore{c}, op, StaleNote[c.mode])
}
