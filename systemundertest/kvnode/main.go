// Package kvnode is the kvnode program as a function: Main runs one node of
// Gauntlet's system under test, a replicated key-value store with a raft
// mode and a leaderless quorum mode, each with a catalog of injectable bugs,
// on the environment it is given. cmd/kvnode runs it on the operating
// system; the sim deployment runs the same code on a simulated world.
//
//	kvnode --mode raft --id n1 --listen 127.0.0.1:7001 \
//	       --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003 --data /tmp/n1
//
// Exit status: 0 after a clean shutdown (SIGTERM, SIGINT), 64 for bad input
// (flags, peer list, data directory, corrupted log), 1 for other failures.
package kvnode

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

const (
	exitFailure  = 1
	exitBadInput = 64
)

// usageError is bad input: exit 64 with one clear line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badInput(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// flags holds what is parsed before it becomes a nodeConfig.
type flags struct {
	nodeConfig
	peers     string
	listBugs  bool
	logFormat string
	logLevel  string
	pprof     bool
	raft      raftTuning
}

// raftTuning is raft mode's knobs (0 = the raft core's default).
type raftTuning struct {
	ElectionTimeout   time.Duration
	HeartbeatInterval time.Duration
	SnapshotThreshold uint64
	MaxBatch          int
	Pipeline          int // POSTs in flight per peer (transport.Config.Pipeline)
}

// Main runs a node with the command line args on e until ctx is done (a
// signal, for a process), and returns the exit status.
func Main(ctx context.Context, e env.Env, args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kvnode: %v\n", err)
		return exitBadInput
	}
	if f.listBugs {
		return listBugs(f.Mode, stdout, stderr)
	}
	logger, err := newLogger(stderr, f.logFormat, f.logLevel, f.ID)
	if err != nil {
		fmt.Fprintf(stderr, "kvnode: %v\n", err)
		return exitBadInput
	}
	f.Logger = logger
	f.Clock = clock.New(e)
	if err := serve(ctx, e, f); err != nil {
		fmt.Fprintf(stderr, "kvnode: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			return exitBadInput
		}
		logger.Error("kvnode failed", "err", err)
		return exitFailure
	}
	return 0
}

func parseFlags(args []string, stdout io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("kvnode", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported in one line by run
	fs.StringVar(&f.Mode, "mode", "raft", "replication mode: raft | quorum")
	fs.StringVar(&f.ID, "id", "", "this node's id, one of the ids in --peers")
	fs.StringVar(&f.Listen, "listen", "", "host:port to serve clients and peers on")
	fs.StringVar(&f.peers, "peers", "", "every member as id=host:port,... (this node included; addresses may be proxies)")
	fs.StringVar(&f.DataDir, "data", "", "data directory (created if missing)")
	fs.StringVar(&f.Bug, "bug", "", "switch on one known-wrong behaviour (see --list-bugs)")
	fs.BoolVar(&f.listBugs, "list-bugs", false, "print the bug catalog of --mode and exit")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text | json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug | info | warn | error")
	fs.BoolVar(&f.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/")
	// Quorum mode.
	fs.IntVar(&f.N, "replicas", 0, "quorum: replicas per key (0 = mode default)")
	fs.IntVar(&f.R, "r", 0, "quorum: read quorum (0 = from --consistency)")
	fs.IntVar(&f.W, "w", 0, "quorum: write quorum (0 = from --consistency)")
	fs.StringVar(&f.Consistency, "consistency", "", "quorum: one | quorum | all (sets R and W)")
	// Raft mode.
	fs.DurationVar(&f.raft.ElectionTimeout, "election-timeout", raft.DefaultElectionTimeout, "raft: base election timeout; each election waits [T, 2T)")
	fs.DurationVar(&f.raft.HeartbeatInterval, "heartbeat", raft.DefaultHeartbeatInterval, "raft: heartbeat interval")
	fs.Uint64Var(&f.raft.SnapshotThreshold, "snapshot-threshold", raft.DefaultSnapshotThreshold, "raft: entries applied between snapshots")
	fs.IntVar(&f.raft.MaxBatch, "max-batch", raft.DefaultMaxBatch, "raft: entries per append message and fsync")
	fs.IntVar(&f.raft.Pipeline, "pipeline", 1, "raft: message batches in flight per peer, each on its own connection (more than 1 lets a later batch overtake an earlier one)")
	fs.Usage = func() {} // the flag package calls it on every error; -h is handled below
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: kvnode --mode raft|quorum --id ID --listen HOST:PORT --peers ID=HOST:PORT,... --data DIR [flags]")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, badInput("%v (run kvnode -h for the flags)", err)
	}
	if fs.NArg() > 0 {
		return nil, badInput("unexpected argument %q (run kvnode -h for the flags)", fs.Arg(0))
	}
	if f.Mode != "raft" && f.Mode != "quorum" {
		return nil, badInput("--mode %q: want raft or quorum", f.Mode)
	}
	if f.Bug != "" {
		cat, known := bugCatalog(f.Mode)
		if known && !slices.ContainsFunc(cat, func(b bugInfo) bool { return b.Name == f.Bug }) {
			return nil, badInput("--bug %q is not in the %s catalog (%s)", f.Bug, f.Mode, bugNames(cat))
		}
	}
	if f.listBugs {
		return f, nil
	}
	if f.ID == "" {
		return nil, badInput("--id is required")
	}
	if f.Listen == "" {
		return nil, badInput("--listen is required (host:port)")
	}
	if _, _, err := net.SplitHostPort(f.Listen); err != nil {
		return nil, badInput("--listen %q: want host:port: %v", f.Listen, err)
	}
	peers, err := parsePeers(f.peers)
	if err != nil {
		return nil, err
	}
	if _, ok := peers[f.ID]; !ok {
		return nil, badInput("--id %q is not in --peers (ids: %s)", f.ID, strings.Join(sortedKeys(peers), ", "))
	}
	f.Peers = peers
	if f.DataDir == "" {
		return nil, badInput("--data is required")
	}
	if f.raft.ElectionTimeout <= 0 || f.raft.HeartbeatInterval <= 0 || f.raft.HeartbeatInterval >= f.raft.ElectionTimeout {
		return nil, badInput("--heartbeat %v must be positive and below --election-timeout %v", f.raft.HeartbeatInterval, f.raft.ElectionTimeout)
	}
	if f.raft.Pipeline < 1 || f.raft.Pipeline > 64 {
		return nil, badInput("--pipeline %d: want 1 to 64 batches in flight per peer", f.raft.Pipeline)
	}
	if f.raft.MaxBatch <= 0 || f.raft.SnapshotThreshold == 0 {
		return nil, badInput("--max-batch and --snapshot-threshold must be positive")
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return nil, badInput("--log-format %q: want text or json", f.logFormat)
	}
	return f, nil
}

const peersForm = "want id=host:port,id=host:port,... e.g. n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003"

// parsePeers parses "n1=host:port,n2=host:port".
func parsePeers(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, badInput("--peers is required; %s", peersForm)
	}
	peers := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		id, addr, ok := strings.Cut(item, "=")
		if !ok || id == "" || addr == "" {
			return nil, badInput("malformed --peers entry %q: %s", item, peersForm)
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			return nil, badInput("malformed address %q for peer %q in --peers: %s", addr, id, peersForm)
		}
		if _, dup := peers[id]; dup {
			return nil, badInput("peer %q appears twice in --peers", id)
		}
		peers[id] = addr
	}
	return peers, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newLogger(w io.Writer, format, level, id string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, badInput("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h).With("node", id), nil
}

// checkDataDir creates dir if needed and proves it writable.
func checkDataDir(e env.Env, dir string) error {
	if err := e.MkdirAll(dir, 0o755); err != nil {
		return badInput("data directory %s is not usable: %v", dir, err)
	}
	probe, err := e.OpenFile(filepath.Join(dir, fmt.Sprintf(".probe-%d", e.Seed())), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return badInput("data directory %s is not writable: %v", dir, err)
	}
	name := probe.Name()
	probe.Close()
	if err := e.Remove(name); err != nil {
		return badInput("data directory %s: remove probe %s: %v", dir, filepath.Base(name), err)
	}
	return nil
}

// serve opens the store, serves HTTP until ctx is done, then shuts down.
func serve(ctx context.Context, e env.Env, f *flags) error {
	log := f.Logger
	if err := checkDataDir(e, f.DataDir); err != nil {
		return err
	}
	// Listen before opening the store so a taken port fails fast.
	ln, err := e.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.Listen, err)
	}
	defer ln.Close()

	var store api.Store
	var internal http.Handler
	switch f.Mode {
	case "raft":
		store, internal, err = openRaft(e, f.nodeConfig, f.raft)
	default:
		store, internal, err = openQuorum(e, f.nodeConfig)
	}
	if err != nil {
		return badInput("open %s store in %s: %v", f.Mode, f.DataDir, err)
	}
	handler := api.NewServer(store, api.ServerOptions{Clock: f.Clock, Internal: internal, Logger: log})
	if f.pprof {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.Handle("/", handler)
		handler = mux
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("kvnode serving", "mode", f.Mode, "listen", ln.Addr().String(), "peers", f.Peers, "data", f.DataDir, "bug", f.Bug)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", "signal")
	case serveErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	if err := store.Close(); err != nil {
		log.Error("close store", "err", err)
		return fmt.Errorf("close store: %w", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	log.Info("stopped cleanly")
	return nil
}
