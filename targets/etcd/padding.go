package etcd

import (
	"context"
	"fmt"
	"time"
)

// Padding widens the window of etcd #13766 without touching the server: with
// Options.PadKeys = N, the System's Setup writes N padding keys, and every
// write and cas of the clients becomes a txn that also compares the version
// of every padding key with -1 — always true, so the op means what it meant,
// but etcd v3.5 evaluates a txn's compares (compareToPath in
// applierV3backend.Txn) after applyEntryNormal has set the entry's consistent
// index and before it takes the backend's write lock. A periodic backend
// commit in that window persists the index without the entry's writes; a
// SIGKILL before the next commit makes the restarted member skip the entry.
// The longer the compare, the more of the apply loop's time is inside the
// window.
const (
	padPrefix = "gauntlet-pad/"
	padEnd    = "gauntlet-pad0" // '/' + 1: the end of the prefix's range
	// etcd's default --max-txn-ops.
	maxTxnOps = 128
)

// padCompare is the always-true compare over every padding key.
func padCompare() map[string]any {
	return map[string]any{"key": b64(padPrefix), "range_end": b64(padEnd), "target": "VERSION", "result": "GREATER", "version": "-1"}
}

// writePadding puts n padding keys through the member at addr, in txns of
// at most maxTxnOps puts.
func writePadding(ctx context.Context, addr string, n int) error {
	g := newGateway(addr, 10*time.Second)
	defer g.Close()
	for i := 0; i < n; i += maxTxnOps {
		var puts []map[string]any
		for j := i; j < min(n, i+maxTxnOps); j++ {
			puts = append(puts, map[string]any{"requestPut": map[string]any{"key": b64(fmt.Sprintf("%s%06d", padPrefix, j)), "value": b64("pad")}})
		}
		if err := g.call(ctx, "/v3/kv/txn", map[string]any{"success": puts}, nil); err != nil {
			return fmt.Errorf("etcd: writing padding keys %d–%d: %w", i, i+len(puts)-1, err)
		}
	}
	return nil
}
