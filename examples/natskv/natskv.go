// Package natskv plugs a real product into Gauntlet: NATS JetStream's
// key-value store, a bucket replicated by a raft group of its own on a
// three-server NATS cluster. It is the shape most products have and the toy
// has not: several ports (clients, routes between servers, an HTTP
// monitoring page), a setup step that creates the bucket and retries until
// the cluster can, a leader read from the status page (the cluster's
// before setup, the bucket's after), and digests of the replicated log.
package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/targets/kit"
)

const (
	bucket = "gauntlet"
	stream = "KV_" + bucket // the stream JetStream keeps a bucket in
	meta   = "_meta_"       // the raft group of the cluster's own leader
)

type system struct {
	created atomic.Bool  // Setup made the bucket: statuses are its raft group's
	group   atomic.Value // the bucket's raft group name, once a node said it
}

var _ = registry.Register(registry.SystemDef{Name: "natskv", Help: "NATS JetStream key-value (examples/natskv)",
	New: func(registry.Config) (harness.System, error) { return &system{}, nil }})

func (*system) Name() string { return "natskv" }

func (*system) Build(ctx context.Context, cache string) (string, error) {
	return kit.GoBuild(ctx, cache, "github.com/gauntlet-dev/natskv/cmd/nats-server")
}

// Ports: routes between servers arrive at the peer port (partitions are
// made there); the monitoring page has a port of its own.
func (*system) Ports() []string { return []string{harness.PortPeer, "monitor"} }

func (*system) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	host, port, err := net.SplitHostPort(n.Listen)
	if err != nil {
		return harness.Launch{}, err
	}
	_, monitor, _ := net.SplitHostPort(n.Ports["monitor"])
	var routes []string
	for id, addr := range n.Peers {
		if id != n.ID {
			routes = append(routes, "nats://"+addr)
		}
	}
	return harness.Launch{Binary: n.Binary, Args: []string{"--server_name", n.ID, "-a", host, "-p", port, "-m", monitor,
		"-js", "-sd", n.DataDir, "--cluster_name", "gauntlet", "--cluster", "nats://" + n.PeerListen,
		"--routes", strings.Join(routes, ","), "--no_advertise=true"}}, nil // clients stay on their node
}

// Timescale: a NATS raft follower stands for election after 4–9 s without
// its leader.
func (*system) Timescale() time.Duration { return 4 * time.Second }
func (*system) ReportsLeader() bool      { return true }
func (*system) ReportsElections() bool   { return true } // role and term: one raftz snapshot
func (*system) ElectsAtSetup() bool      { return true } // the bucket has a leader of its own

// Setup creates the replicated bucket, retrying while JetStream's cluster
// is still forming ("insufficient resources", "no suitable peers"), and
// turns off direct gets: they are served by any replica, stale ones too,
// and the kv workload checks linearizability.
func (s *system) Setup(ctx context.Context, env harness.SetupEnv) error {
	var urls []string
	for _, n := range env.Nodes {
		urls = append(urls, "nats://"+n.Addr())
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		err = createBucket(ctx, js, min(3, len(env.Nodes)))
		if err == nil {
			s.created.Store(true)
			return nil
		}
		env.Log.Info("natskv: bucket not created yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func createBucket(ctx context.Context, js jetstream.JetStream, replicas int) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.CreateKeyValue(cctx, jetstream.KeyValueConfig{Bucket: bucket, Replicas: replicas}); err != nil {
		return err
	}
	st, err := js.Stream(cctx, stream)
	if err != nil {
		return err
	}
	cfg := st.CachedInfo().Config
	cfg.AllowDirect = false
	_, err = js.UpdateStream(cctx, cfg)
	return err
}

// Status reads the node's monitoring page: the raft group of the cluster's
// leader before setup, the bucket's after (no leader until this node
// hosts it). Role, term and leader come from one /raftz snapshot.
func (s *system) Status(ctx context.Context, n harness.Node) (harness.NodeStatus, error) {
	mon := "http://" + n.Ports["monitor"]
	group, acc := meta, "" // the cluster's group is in the system account
	if s.created.Load() {
		g, err := s.bucketGroup(ctx, mon)
		if err != nil || g == "" {
			return harness.NodeStatus{ID: n.ID, Role: "follower"}, err
		}
		group, acc = g, "$G" // the bucket's, in the account that owns it
	}
	var rz map[string]map[string]struct {
		ID, State, Leader string
		Term, Committed   uint64
		Applied           uint64
		Peers             map[string]struct{ Name string }
	}
	if err := getJSON(ctx, mon+"/raftz?"+url.Values{"group": {group}, "acc": {acc}}.Encode(), &rz); err != nil {
		return harness.NodeStatus{}, err
	}
	for _, groups := range rz {
		if g, ok := groups[group]; ok {
			st := harness.NodeStatus{ID: n.ID, Role: strings.ToLower(g.State), Term: g.Term, Commit: g.Committed, Applied: g.Applied}
			if g.Leader == g.ID {
				st.Leader = n.ID
			} else if p, ok := g.Peers[g.Leader]; ok {
				st.Leader = p.Name
			}
			return st, nil
		}
	}
	return harness.NodeStatus{ID: n.ID, Role: "follower"}, nil // not a member yet
}

// bucketGroup is the name of the bucket's raft group, as the node's
// monitoring page says ("" while it does not host the bucket).
func (s *system) bucketGroup(ctx context.Context, mon string) (string, error) {
	if g, _ := s.group.Load().(string); g != "" {
		return g, nil
	}
	d, err := streamDetail(ctx, mon)
	if err != nil || d == nil {
		return "", err
	}
	s.group.Store(d.RaftGroup)
	return d.RaftGroup, nil
}

type detail struct {
	RaftGroup string `json:"stream_raft_group"`
	State     struct {
		Msgs     uint64 `json:"messages"`
		Bytes    uint64 `json:"bytes"`
		FirstSeq uint64 `json:"first_seq"`
		LastSeq  uint64 `json:"last_seq"`
	} `json:"state"`
}

// streamDetail is the bucket's stream as this node holds it (nil if it
// holds none).
func streamDetail(ctx context.Context, mon string) (*detail, error) {
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Name string `json:"name"`
				detail
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := getJSON(ctx, mon+"/jsz?acc=%24G&streams=true&raft=true", &jsz); err != nil {
		return nil, err
	}
	for _, a := range jsz.Accounts {
		for _, st := range a.Streams {
			if st.Name == stream {
				return &st.detail, nil
			}
		}
	}
	return nil, nil
}

// Digest is the bucket's replicated log as this node holds it: its first
// and last sequence, message and byte counts. Applied is the last sequence:
// replicas that applied as much of the log hold the same bucket.
func (s *system) Digest(ctx context.Context, n harness.Node) (harness.Digest, error) {
	d, err := streamDetail(ctx, "http://"+n.Ports["monitor"])
	if err != nil || d == nil {
		return harness.Digest{Node: n.ID}, cmpErr(err, errors.New("the node holds no replica of the bucket"))
	}
	st := d.State
	return harness.Digest{Node: n.ID, Applied: st.LastSeq,
		Digest: fmt.Sprintf("seq %d-%d, %d msgs, %d bytes", st.FirstSeq, st.LastSeq, st.Msgs, st.Bytes)}, nil
}

func cmpErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// NewClient connects to the node's client port only (the servers do not
// advertise the others), reconnecting to it after a restart.
func (*system) NewClient(n harness.Node) (harness.Client, error) {
	return &client{url: "nats://" + n.Addr()}, nil
}

type client struct {
	url string
	mu  sync.Mutex
	nc  *nats.Conn
	kv  jetstream.KeyValue
}

func (c *client) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kv != nil {
		return c.kv, nil
	}
	if c.nc == nil {
		nc, err := nats.Connect(c.url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
		if err != nil {
			return nil, err
		}
		c.nc = nc
	}
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, bucket)
	if err == nil {
		c.kv = kv
	}
	return kv, err
}

func (c *client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		c.nc.Close()
	}
	return nil
}

// Invoke: reads go to the bucket's leader (no direct gets). A write or cas
// that JetStream refused (an API error: wrong last sequence, no quorum) or
// that found no server to take it certainly did not happen (fail); one
// whose answer did not come may have (info).
func (c *client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	kv, err := c.bucket(ctx)
	if err != nil {
		return op.Failed(harness.Fail, err, "")
	}
	if op.F == harness.FWrite {
		_, err := kv.PutString(ctx, op.Key, *op.Value)
		return written(op, err)
	}
	e, err := kv.Get(ctx, op.Key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound) && op.F == harness.FRead:
		return op.Read(nil)
	case err != nil:
		return op.Failed(harness.Fail, err, "")
	case op.F == harness.FRead:
		v := string(e.Value())
		return op.Read(&v)
	case string(e.Value()) != *op.From:
		return op.Failed(harness.Fail, nil, "value is "+string(e.Value()))
	}
	_, err = kv.Update(ctx, op.Key, []byte(*op.Value), e.Revision())
	return written(op, err)
}

func written(op harness.Op, err error) harness.Op {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return op.Complete(harness.OK)
	case errors.As(err, &apiErr), errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrConnectionClosed):
		return op.Failed(harness.Fail, err, "")
	}
	return op.Failed(harness.Info, err, "")
}
