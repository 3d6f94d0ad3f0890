// Package hashiraft is a small key-value store on hashicorp/raft, written
// against Gauntlet's package env so that the same node runs as a process
// (local, docker, ssh deployments) and in the simulation (--deploy sim).
// Its one catalog bug is a classic user mistake: --stale-reads serves reads
// from the local state machine without a barrier or a leader check.
package hashiraft

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/gauntlet-dev/gauntlet/env"
)

// Main runs one node with the command line args on e until ctx is done and
// returns its exit status (64 for bad flags).
func Main(ctx context.Context, e env.Env, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hashiraftnode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "this node's id, one of --peers")
	listen := fs.String("listen", "", "host:port of the HTTP API")
	raftListen := fs.String("raft-listen", "", "host:port raft listens on")
	peers := fs.String("peers", "", "every member as id=host:port of its raft address, this node included")
	data := fs.String("data", "", "data directory")
	stale := fs.Bool("stale-reads", false, "the mistake: serve reads from the local state machine, no barrier, no leader check")
	if err := fs.Parse(args); err != nil {
		return 64
	}
	members, err := parsePeers(*peers)
	if err == nil && (*id == "" || *listen == "" || *raftListen == "" || *data == "") {
		err = errors.New("--id, --listen, --raft-listen, --peers and --data are required")
	}
	if _, ok := members[*id]; err == nil && !ok {
		err = fmt.Errorf("--id %q is not in --peers", *id)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hashiraftnode:", err)
		return 64
	}
	if err := serve(ctx, e, *id, *listen, *raftListen, members, *data, *stale, stderr); err != nil {
		fmt.Fprintln(stderr, "hashiraftnode:", err)
		return 1
	}
	return 0
}

func parsePeers(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		id, a, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || id == "" || a == "" {
			return nil, fmt.Errorf("--peers entry %q: want id=host:port", item)
		}
		out[id] = a
	}
	return out, nil
}

func serve(ctx context.Context, e env.Env, id, listen, raftListen string, members map[string]string, dir string, stale bool, logw io.Writer) error {
	if err := e.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logs, err := openLogStore(e, dir)
	if err != nil {
		return fmt.Errorf("log store: %w", err)
	}
	defer logs.Close()
	stable, err := openStableStore(e, dir)
	if err != nil {
		return fmt.Errorf("stable store: %w", err)
	}
	// Snapshots stay in memory and are never taken (the threshold below):
	// a node restarts from its whole log, which is all these short runs
	// need; a snapshot lost in a crash must not stand for compacted entries.
	snaps := raft.NewInmemSnapshotStore()

	rl, err := e.Listen("tcp", raftListen)
	if err != nil {
		return fmt.Errorf("raft listen: %w", err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: logw, Level: hclog.Info})
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: &streamLayer{Listener: rl, n: e, advertise: addr(members[id])}, MaxPool: 3,
		Timeout: 2 * time.Second, Logger: logger.Named("transport"),
	})
	defer trans.Close()

	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.Logger = logger
	conf.HeartbeatTimeout = 500 * time.Millisecond
	conf.ElectionTimeout = 500 * time.Millisecond
	conf.LeaderLeaseTimeout = 250 * time.Millisecond
	conf.SnapshotThreshold = 1 << 62
	conf.SnapshotInterval = 24 * time.Hour
	fsm := newFSM()
	if has, err := raft.HasExistingState(logs, stable, snaps); err != nil {
		return err
	} else if !has {
		ids := make([]string, 0, len(members))
		for m := range members {
			ids = append(ids, m)
		}
		sort.Strings(ids)
		var servers []raft.Server
		for _, m := range ids {
			servers = append(servers, raft.Server{ID: raft.ServerID(m), Address: raft.ServerAddress(members[m])})
		}
		// Every member bootstraps with the members at the addresses it
		// dials them at (on the local deployment, a proxy per link, where
		// partitions are made). The entries agree in index and term, so
		// raft never replaces one node's view with another's.
		if err := raft.BootstrapCluster(conf, logs, stable, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	r, err := raft.NewRaft(conf, fsm, logs, stable, snaps, trans)
	if err != nil {
		return fmt.Errorf("raft: %w", err)
	}
	defer func() { _ = r.Shutdown().Error() }()

	ln, err := e.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: &api{id: id, r: r, fsm: fsm, stale: stale}, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
