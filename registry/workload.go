package registry

import (
	"context"

	"github.com/gauntlet-dev/gauntlet/checkers/convergence"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

// Workloads lists the workload names.
func Workloads() []string { return workloads.Names() }

// Workload resolves t's workload; its checkers are bounded by t.CheckTimeout.
// Convergence is judged for every workload (it is about the system: after
// recovery all replicas hold the same state), so it is added if the
// workload does not name it.
func Workload(t harness.Test) (harness.Workload, error) {
	w, err := workloads.New(t.Workload, workloads.Options{CheckTimeout: t.CheckTimeout.D(), ReadFraction: t.ReadFraction})
	if err != nil {
		return nil, err
	}
	return withConvergence{w}, nil
}

type withConvergence struct{ harness.Workload }

func (w withConvergence) Checkers() []harness.Checker {
	cs := w.Workload.Checkers()
	for _, c := range cs {
		if c.Name() == (convergence.Checker{}).Name() {
			return cs
		}
	}
	return append(cs, convergence.New())
}

// converged is the convergence checker's verdict on a sample of digests.
func converged(ds []harness.Digest) bool {
	res := convergence.New().Check(context.Background(), harness.CheckInput{Digests: ds})
	return res.Validity == harness.Valid
}
