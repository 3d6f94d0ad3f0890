// Package transport carries raft messages between kvnodes over HTTP.
//
// Each peer has one sender goroutine (or Config.Pipeline of them) and a
// bounded queue: Send never blocks and drops the message when the queue is
// full (raft retries whatever it needs). A sender drains the queue into
// batches and POSTs each batch,
// in a compact binary encoding (codec.go), to http://<peer address>/internal/raft/messages over a
// persistent connection; the address is the one from --peers, which the
// harness may point at a proxy. A failed POST drops its batch and backs off
// briefly; the next batch dials again, so a restarted peer or a healed link
// is picked up without any special handling.
package transport

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/raft"
)

// Path is where peers POST message batches.
const Path = "/internal/raft/messages"

const contentType = "application/x-kvnode-raft"

// Config configures an HTTP transport.
type Config struct {
	ID    string            // this node
	Peers map[string]string // id -> host:port; this node's own entry is ignored
	// QueueSize bounds the messages waiting per peer (0 = 4096).
	QueueSize int
	// MaxBatch bounds messages per POST (0 = 512).
	MaxBatch int
	// Timeout bounds one POST, dial included (0 = 2s). Short, so a
	// blackholed link does not hold messages for long.
	Timeout time.Duration
	// Pipeline is the number of POSTs in flight per peer, each on a
	// connection of its own (0 = 1: one batch at a time, delivered in
	// order). More, as etcd's rafthttp pipeline sends with four, lets a
	// later batch overtake an earlier one: raft must not care.
	Pipeline int
	Logger   *slog.Logger
	// Net and Clock are the node's environment (nil = the OS's).
	Net   env.Network
	Clock env.Clock
}

// HTTP is a raft.Transport over HTTP.
type HTTP struct {
	cfg    Config
	client *http.Client
	peers  map[string]*peer
	stop   chan struct{}
	ctx    context.Context // cancelled by Close, aborting POSTs in flight
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

var _ raft.Transport = (*HTTP)(nil)

type peer struct {
	id, url string
	queue   chan raft.Message
}

// New starts one sender per peer.
func New(cfg Config) *HTTP {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Pipeline <= 0 {
		cfg.Pipeline = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Net == nil {
		cfg.Net = env.OS()
	}
	if cfg.Clock == nil {
		cfg.Clock = env.OS()
	}
	tr := &http.Transport{
		DialContext:           env.Dialer(cfg.Net, cfg.Timeout),
		MaxIdleConnsPerHost:   max(2, cfg.Pipeline),
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	t := &HTTP{
		cfg:    cfg,
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout},
		peers:  map[string]*peer{},
		stop:   make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for id, addr := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		p := &peer{id: id, url: "http://" + addr + Path, queue: make(chan raft.Message, cfg.QueueSize)}
		t.peers[id] = p
		for range cfg.Pipeline {
			t.wg.Add(1)
			go t.run(p)
		}
	}
	return t
}

// Send queues m for its destination; it never blocks.
func (t *HTTP) Send(m raft.Message) {
	p, ok := t.peers[m.To]
	if !ok {
		return
	}
	select {
	case p.queue <- m:
	default: // full: drop, raft retries
	}
}

// Close stops the senders; queued messages are dropped.
func (t *HTTP) Close() error {
	t.once.Do(func() {
		close(t.stop)
		t.cancel()
		t.wg.Wait()
		t.client.CloseIdleConnections()
	})
	return nil
}

func (t *HTTP) run(p *peer) {
	defer t.wg.Done()
	log := t.cfg.Logger.With("peer", p.id)
	batch := make([]raft.Message, 0, t.cfg.MaxBatch)
	var buf []byte
	backoff := time.Duration(0)
	down := false
	for {
		select {
		case <-t.stop:
			return
		case m := <-p.queue:
			batch = append(batch[:0], m)
		}
	fill:
		for len(batch) < t.cfg.MaxBatch {
			select {
			case m := <-p.queue:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		buf = encodeBatch(buf[:0], batch)
		err := t.post(p, buf)
		clear(batch) // let entry data be collected
		if err == nil {
			if down {
				log.Info("peer reachable again")
				down = false
			}
			backoff = 0
			continue
		}
		if !down {
			log.Warn("peer unreachable; dropping messages until it answers", "err", err)
			down = true
		}
		backoff = min(max(2*backoff, 10*time.Millisecond), 200*time.Millisecond)
		select {
		case <-t.stop:
			return
		case <-env.After(t.cfg.Clock, backoff):
		}
	}
}

func (t *HTTP) post(p *peer, body []byte) error {
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", p.id, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // drain so the connection is reused
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("post to %s: %s", p.id, resp.Status)
	}
	return nil
}

// Handler receives batches at Path and hands each message to deliver
// (normally raft.Node.Deliver).
func Handler(deliver func(raft.Message)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		// Snapshots travel here too, hence the generous bound.
		data, err := io.ReadAll(io.LimitReader(r.Body, 1<<30))
		if err != nil {
			http.Error(w, "read batch: "+err.Error(), http.StatusBadRequest)
			return
		}
		batch, err := decodeBatch(data)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, m := range batch {
			deliver(m)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
