package jepsen

import (
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/appendreg"
	"github.com/gauntlet-dev/gauntlet/checkers/counter"
	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/checkers/multiregister"
	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/checkers/set"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// CheckOptions say how an imported history is judged.
type CheckOptions struct {
	Model   Model
	Initial Initial
	// Strict lets the stats checker's verdict count as for a live run
	// (too few ok ops: unknown). Without it the model's verdict decides.
	Strict  bool
	Timeout time.Duration
	// Consistency is the model an Elle history is judged against
	// (list-append, rw-register): "" is strict-serializable, Elle's default.
	Consistency string
}

// Checkers returns the checkers of a model. The register models read a nil
// read as "unknown", as Knossos's register, cas-register and multi-register
// models do ("nil reads are always legal").
func Checkers(o CheckOptions) []harness.Checker {
	switch o.Model {
	case Register, CASRegister:
		return []harness.Checker{linearizable.New(linearizable.Options{Timeout: o.Timeout, Initial: o.Initial.Value, NilReadsUnknown: true}), stats.New()}
	case KVAppend:
		return []harness.Checker{appendreg.New(o.Timeout), stats.New()}
	case MultiRegister:
		return []harness.Checker{multiregister.Checker{Timeout: o.Timeout, Initial: o.Initial.Regs, NilReadsUnknown: true}}
	case Mutex:
		return []harness.Checker{mutex.New(o.Timeout), stats.New()}
	case Set:
		return []harness.Checker{set.New()}
	case Counter:
		return []harness.Checker{counter.New()}
	case ListAppend, RWRegister:
		return []harness.Checker{isolation.New(isolation.Options{Model: isolation.Model(o.Model), Consistency: o.Consistency, Timeout: o.Timeout}), stats.New()}
	}
	return nil
}

// Verdict is an imported history's verdict. The question an import asks is
// "is this history valid under the model", so the model's checkers decide
// and the stats checker (too few ok ops: unknown) is shown beside them; a
// live run, where a vacuous pass must not look like a pass, and --strict
// merge every checker's verdict.
func Verdict(results []harness.Result, strict bool) harness.Validity {
	if strict {
		return harness.Verdict(results)
	}
	var model []harness.Result
	for _, r := range results {
		if r.Checker != "stats" {
			model = append(model, r)
		}
	}
	return harness.Verdict(model)
}
