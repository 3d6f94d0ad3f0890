package registry

import (
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

// Workloads lists the workload names.
func Workloads() []string { return workloads.Names() }

// Workload resolves t's workload; its checkers are bounded by t.CheckTimeout.
func Workload(t harness.Test) (harness.Workload, error) {
	return workloads.New(t.Workload, workloads.Options{CheckTimeout: t.CheckTimeout.D()})
}
