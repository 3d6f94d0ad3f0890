// Setup and teardown: the cluster comes up, becomes healthy, and is always
// torn down.

package harness

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

func (r *run) setup(ctx context.Context) error {
	c, err := r.p.Deployment.Deploy(ctx, ClusterSpec{
		Nodes:  r.t.Nodes,
		System: r.p.System,
		Bug:    r.t.Bug,
		Dir:    r.dir,
		RunID:  filepath.Base(filepath.Dir(r.dir)) + "-" + filepath.Base(r.dir),
		Log:    r.log,
	})
	if c != nil {
		r.cluster = c // even on error: Close must clean up a half-made cluster
	}
	if err != nil {
		return fmt.Errorf("deploy %s on %s: %w", r.p.System.Name(), r.p.Deployment.Name(), err)
	}
	r.nodes = c.Nodes()
	if len(r.nodes) == 0 {
		return errors.New("deployment made a cluster without nodes")
	}
	return nil
}

// waitHealthy waits until every node answers its status and, for a system
// with leaders, one is elected. A cluster may know better (WaitHealthy).
func (r *run) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, healthyLimit)
	defer cancel()
	if w, ok := r.cluster.(interface{ WaitHealthy(context.Context) error }); ok {
		if err := w.WaitHealthy(ctx); err != nil {
			return fmt.Errorf("cluster not healthy within %s: %w", healthyLimit, err)
		}
		return nil
	}
	var last error
	for {
		last = r.healthy(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy within %s: %w", healthyLimit, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *run) healthy(ctx context.Context) error {
	leaderBased, leader := false, false
	for _, n := range r.nodes {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := r.p.System.Status(sctx, r.cluster.ClientAddr(n))
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		switch st.Role {
		case "leader":
			leaderBased, leader = true, true
		case "follower", "candidate":
			leaderBased = true
		}
	}
	if leaderBased && !leader {
		return errors.New("no leader elected")
	}
	return nil
}

// teardown collects logs and closes the cluster with a context of its own:
// it must also run when ctx was cancelled by Ctrl-C.
func (r *run) teardown(ctx context.Context) {
	if r.cluster == nil {
		return
	}
	r.setPhase(PhaseTeardown)
	t0 := time.Now()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownLimit)
	defer cancel()
	var errs []error
	if err := r.cluster.CollectLogs(tctx, filepath.Join(r.dir, NodesDir)); err != nil {
		errs = append(errs, fmt.Errorf("collect logs: %w", err))
	}
	if err := r.cluster.Close(tctx); err != nil {
		errs = append(errs, fmt.Errorf("close cluster: %w", err))
	}
	err := errors.Join(errs...)
	if err != nil {
		r.log.Error("teardown", "err", err)
	}
	r.addPhase(PhaseTeardown, t0, err)
}
