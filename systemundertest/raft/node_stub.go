package raft

import "context"

// Node is a running raft member. (Stub: the raft core replaces this file.)
type Node struct{}

// NewNode restores state from the stores and starts the node.
func NewNode(cfg Config) (*Node, error) { return nil, ErrStopped }

func (n *Node) Deliver(m Message)                                     {}
func (n *Node) Propose(ctx context.Context, data []byte) (any, error) { return nil, ErrStopped }
func (n *Node) ReadIndex(ctx context.Context) error                   { return ErrStopped }
func (n *Node) Status() Status                                        { return Status{} }
func (n *Node) Stop()                                                 {}

var _ NodeAPI = (*Node)(nil)
