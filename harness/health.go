package harness

import (
	"context"
	"errors"
	"fmt"
	"github.com/gauntlet-dev/gauntlet/env"
	"sort"
	"strings"
	"sync"
	"time"
)

// The one rule of health and leadership, for every deployment and system.
//
// A node is up when it answers its status (StatusReporter), or, for a system
// that reports none, when its client port accepts a connection. A cluster is
// healthy when every node is up and, for a LeaderReporter, every node names
// the same leader. The leader is the node a majority of the cluster names,
// and that does not deny it itself: a deposed leader cut off in a minority
// still says it leads, and must not be taken for the leader.

// NodeReporter is optionally implemented by clusters that can tell a node
// whose process has ended, and show the end of a node's log: waiting for
// health then stops at once with the reason, and a cluster that never
// becomes healthy says what its nodes wrote.
type NodeReporter interface {
	// Exited describes the node's exit (status, last lines of its log), ""
	// while it runs.
	Exited(ctx context.Context, node string) string
	// LogTail is the last lines of the node's log ("" if none).
	LogTail(node string, lines int) string
}

// statusTimeout bounds one node's answer during health checks.
const statusTimeout = 2 * time.Second

// nodeStatuses asks every node of c about itself, in parallel. Without a
// StatusReporter a node that accepts connections on its client port has
// an empty status.
func nodeStatuses(ctx context.Context, sys System, c Cluster) ([]NodeStatus, []error) {
	nodes := c.Nodes()
	sts := make([]NodeStatus, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			node := c.Node(n)
			if !Has(sys, CapStatus) {
				conn, err := env.DialContext(sctx, "tcp", node.Addr()) // the deployment's network
				if err == nil {
					conn.Close()
				}
				errs[i] = err
				return
			}
			sts[i], errs[i] = StatusOf(sctx, sys, node)
		})
	}
	wg.Wait()
	return sts, errs
}

// healthy checks c once: nil if every node is up and, for a system with a
// leader, all name the same one; else what is wrong.
func healthy(ctx context.Context, sys System, c Cluster) error {
	sts, errs := nodeStatuses(ctx, sys, c)
	return healthProblem(c.Nodes(), sts, errs, ReportsLeader(sys))
}

func healthProblem(ids []string, sts []NodeStatus, errs []error, leaderBased bool) error {
	var down []string
	for i, err := range errs {
		if err != nil {
			down = append(down, fmt.Sprintf("%s: %v", ids[i], err))
		}
	}
	if len(down) > 0 {
		return errors.New("not answering: " + strings.Join(down, "; "))
	}
	if !leaderBased {
		return nil
	}
	named := map[string]bool{}
	for i, st := range sts {
		l := st.Leader
		if st.Role == "leader" {
			l = ids[i]
		}
		named[l] = true
	}
	if len(named) == 1 && !named[""] {
		return nil
	}
	var ls []string
	for i, st := range sts {
		ls = append(ls, fmt.Sprintf("%s:%s->%q", ids[i], st.Role, st.Leader))
	}
	return errors.New("no agreed leader: " + strings.Join(ls, " "))
}

// WaitHealthy checks c until it is healthy or ctx ends. A node that exited
// (ExitReporter) ends the wait at once.
func WaitHealthy(ctx context.Context, sys System, c Cluster) error {
	exits, _ := c.(NodeReporter)
	for {
		last := healthy(ctx, sys, c)
		if last == nil {
			return nil
		}
		if exits != nil {
			for _, n := range c.Nodes() {
				if why := exits.Exited(ctx, n); why != "" {
					return fmt.Errorf("%s exited: %s", n, why)
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy (%w): %w", last, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Leader returns the node that a majority of c names as leader (and that
// says so itself, if it answers). ErrUnsupported for a system that reports
// no leader.
func Leader(ctx context.Context, sys System, c Cluster) (string, error) {
	if !ReportsLeader(sys) {
		return "", fmt.Errorf("%s does not report a leader: %w", sys.Name(), ErrUnsupported)
	}
	sts, errs := nodeStatuses(ctx, sys, c)
	return majorityLeader(c.Nodes(), sts, errs)
}

func majorityLeader(ids []string, sts []NodeStatus, errs []error) (string, error) {
	votes := map[string]int{}
	for i, st := range sts {
		if errs[i] != nil {
			continue
		}
		l := st.Leader
		if st.Role == "leader" {
			l = ids[i]
		}
		if l != "" {
			votes[l]++
		}
	}
	for i, st := range sts {
		// A leader that answers and does not think it leads is not one.
		if errs[i] == nil && st.Role != "leader" {
			delete(votes, ids[i])
		}
	}
	var names []string
	for l := range votes {
		names = append(names, l)
	}
	sort.Strings(names)
	for _, l := range names {
		if votes[l] > len(ids)/2 {
			return l, nil
		}
	}
	if len(names) == 0 {
		return "", errors.New("no node names a leader")
	}
	var seen []string
	for _, l := range names {
		seen = append(seen, fmt.Sprintf("%s:%d", l, votes[l]))
	}
	return "", fmt.Errorf("no leader named by a majority of %d nodes (votes: %s)", len(ids), strings.Join(seen, " "))
}

// withLeader gives fault packages a cluster that can find its leader by
// the rule above (LeaderFinder), when the system reports one.
type withLeader struct {
	Cluster
	sys System
}

func (c withLeader) Leader(ctx context.Context) (string, error) { return Leader(ctx, c.sys, c.Cluster) }
