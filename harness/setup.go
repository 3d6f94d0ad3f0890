// Setup and teardown: the cluster comes up, becomes healthy, and is always
// torn down.

package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"
)

// setup deploys the cluster and returns it, even half-made on error: Close
// must clean it up.
func (r *run) setup(ctx context.Context) (Cluster, error) {
	c, err := r.p.Deployment.Deploy(ctx, ClusterSpec{
		Nodes:  r.t.Nodes,
		System: r.p.System,
		Bug:    r.t.Bug,
		Dir:    r.dir,
		// The name and start say which run it is; the suffix keeps two runs
		// of one name started in the same second (in two results folders)
		// from sharing containers, and from removing each other's.
		RunID: fmt.Sprintf("%s-%s-%04x", filepath.Base(filepath.Dir(r.dir)), filepath.Base(r.dir), rand.Uint32N(1<<16)),
		Log:   r.log,
	})
	if err != nil {
		return c, fmt.Errorf("deploy %s on %s: %w", r.p.System.Name(), r.p.Deployment.Name(), err)
	}
	if len(c.Nodes()) == 0 {
		return c, errors.New("deployment made a cluster without nodes")
	}
	return c, nil
}

// waitHealthy waits for the cluster to be healthy by the one rule of
// health.go. A cluster that does not become healthy ends the run with what
// each node that is not up last wrote to its log.
func (r *run) waitHealthy(ctx context.Context) error {
	r.elections = r.watchElections(ctx, func() {
		if r.t.StopOnViolation {
			r.log.Info("two leaders in one term; ending the main phase", "checker", ElectionChecker)
			r.endMain(errTwoLeaders) // a wait for health under way is moot too: the run has its finding
		}
	})
	err := r.waitHealth(ctx)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("cluster not healthy within %s: %w", healthyLimit, err)
	if nr, ok := r.cluster.(NodeReporter); ok && ctx.Err() == nil {
		_, errs := nodeStatuses(context.WithoutCancel(ctx), r.p.System, r.cluster)
		for i, n := range r.nodes {
			if errs[i] == nil && ReportsLeader(r.p.System) {
				continue
			}
			if tail := nr.LogTail(n, logTailLines); tail != "" {
				err = fmt.Errorf("%w\nend of %s's log:\n%s", err, n, tail)
			}
		}
	}
	return err
}

// waitHealth is WaitHealthy within healthyLimit, ended early by endMain.
func (r *run) waitHealth(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, healthyLimit)
	defer cancel()
	defer r.endedEarly(cancel)()
	if r.ended.Err() != nil {
		return context.Cause(r.ended) // found before this wait began
	}
	return WaitHealthy(hctx, r.p.System, r.cluster)
}

// logTailLines is how much of a node's log a setup failure shows.
const logTailLines = 10

// setupSystem runs the system's own setup step, if it has one. For a
// system whose leader changes meaning at setup (SetupElector), the
// election watch drops what it samples meanwhile and judges what follows
// as another election, and the run waits for the new resource's leader.
func (r *run) setupSystem(ctx context.Context) error {
	s, ok := r.p.System.(Setupper)
	if !ok {
		return nil
	}
	moves := ElectsAtSetup(r.p.System)
	if moves {
		r.elections.setup(electionInSetup)
	}
	err := s.Setup(ctx, SetupEnv{Nodes: NodesOf(r.cluster), Log: r.log})
	if err != nil || !moves {
		return err
	}
	r.elections.setup(electionAfterSetup)
	if err := r.waitHealth(ctx); err != nil {
		return fmt.Errorf("no leader of what setup made within %s: %w", healthyLimit, err)
	}
	return nil
}

// faultCluster is the cluster as fault packages see it: with the leader
// rule of health.go when the system reports a leader.
func (r *run) faultCluster() Cluster {
	if ReportsLeader(r.p.System) {
		return withLeader{Cluster: r.cluster, sys: r.p.System}
	}
	return r.cluster
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
