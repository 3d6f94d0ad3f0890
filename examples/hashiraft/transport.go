package hashiraft

import (
	"context"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gauntlet-dev/gauntlet/env"
)

// streamLayer is raft's StreamLayer on env: the transport listens and dials
// through the node's environment, so raft's own NetworkTransport (its
// framing, pipelining and timeouts) runs unchanged on the OS and in the
// simulation.
type streamLayer struct {
	net.Listener
	n         env.Network
	advertise net.Addr
}

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.n.DialContext(ctx, "tcp", string(address))
}

// Addr is the address peers dial (a proxy in front of this node on the
// local deployment), which raft advertises.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }
