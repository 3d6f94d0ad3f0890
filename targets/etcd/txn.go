package etcd

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/targets/internal/httpcall"
	"github.com/gauntlet-dev/gauntlet/targets/internal/txnplan"
)

// Transactions (list-append, rw-register, bank) through etcd's Txn, by the
// method of targets/internal/txnplan: one Txn of ranges reads every key the
// transaction depends on at one revision (linearizable unless
// --etcd-serializable-reads); a second Txn writes, guarded by
// mod_revision == the revision read for each of those keys (0 for an
// absent key), and a lost race starts again. A list is a JSON array of
// strings under list/<key>; a register is its key.
//
// etcd's KV is strict serializable (its API guarantees; Jepsen's 3.4.3
// analysis found multi-key Txn so), and the method keeps it: a committed
// transaction's reads are unchanged at its commit revision.

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

// Lacks: nothing to say yet about the features etcd does not offer.
func (s *System) Lacks(harness.Feature) string { return "" }

// Consistency: etcd's promise for its KV, whatever the read mode. With
// --etcd-serializable-reads a read-only transaction may be stale, which
// the checker then shows as a strict-serializability violation (each such
// read says why in its Error); --consistency serializable judges that mode
// against what it promises instead.
func (s *System) Consistency() string { return "strict-serializable" }

// txnStore is the Store of txnplan on one member.
type txnStore struct{ c *Client }

type txnKV struct {
	Key         string `json:"key"`
	Value       string `json:"value"`
	ModRevision string `json:"mod_revision"`
}

// Read: one Txn of a range per slot, so every range is at the Txn's one
// revision.
func (s txnStore) Read(ctx context.Context, slots []txnplan.Slot) (map[txnplan.Slot]txnplan.Stored, error) {
	out := map[txnplan.Slot]txnplan.Stored{}
	if len(slots) == 0 {
		return out, nil
	}
	ops := make([]map[string]any, len(slots))
	for i, sl := range slots {
		ops[i] = map[string]any{"requestRange": map[string]any{"key": b64(sl.Name()), "serializable": s.c.serializable}}
	}
	var r struct {
		Responses []struct {
			ResponseRange struct {
				Kvs []txnKV `json:"kvs"`
			} `json:"response_range"`
		} `json:"responses"`
	}
	if err := s.c.g.call(ctx, "/v3/kv/txn", map[string]any{"success": ops}, &r); err != nil {
		return nil, err
	}
	if len(r.Responses) != len(slots) {
		return nil, fmt.Errorf("etcd answered %d ranges for %d asked", len(r.Responses), len(slots))
	}
	for i, sl := range slots {
		var st txnplan.Stored
		if kvs := r.Responses[i].ResponseRange.Kvs; len(kvs) > 0 {
			rev, err := strconv.ParseUint(kvs[0].ModRevision, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: mod_revision %q: %v", sl, kvs[0].ModRevision, err)
			}
			st = txnplan.Stored{Value: unb64(kvs[0].Value), Exists: true, Version: rev}
		}
		out[sl] = st
	}
	return out, nil
}

// Commit: one Txn that puts every write if every slot read still has the
// mod revision read (an absent key has mod revision 0).
func (s txnStore) Commit(ctx context.Context, read map[txnplan.Slot]txnplan.Stored, writes map[txnplan.Slot]string) (bool, error) {
	var compare, puts []map[string]any
	for _, sl := range txnplan.Sorted(read) {
		compare = append(compare, map[string]any{"key": b64(sl.Name()), "target": "MOD", "result": "EQUAL",
			"mod_revision": strconv.FormatUint(read[sl].Version, 10)})
	}
	if s.c.pad {
		compare = append(compare, padCompare())
	}
	for _, sl := range txnplan.Sorted(writes) {
		puts = append(puts, map[string]any{"requestPut": map[string]any{"key": b64(sl.Name()), "value": b64(writes[sl])}})
	}
	var r struct {
		Succeeded bool `json:"succeeded"`
	}
	if err := s.c.g.call(ctx, "/v3/kv/txn", map[string]any{"compare": compare, "success": puts}, &r); err != nil {
		return false, err
	}
	return r.Succeeded, nil
}

// NotApplied: never sent, or refused before proposal.
func (s txnStore) NotApplied(err error) bool { return httpcall.NotApplied(err, refusedBeforeProposal) }

// txn performs a transaction op.
func (c *Client) txn(ctx context.Context, op harness.Op) harness.Op {
	return txnplan.Run(ctx, txnStore{c}, op, c.note())
}
