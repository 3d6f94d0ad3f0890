// Package checkers composes the checkers that judge a run. Each checker lives
// in its own sub-package (linearizable, stats, convergence, set, counter, …);
// this package only combines their verdicts, as Jepsen's compose does.
package checkers

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Compose runs every checker on in and merges their verdicts: invalid beats
// unknown beats valid. A checker that panics yields unknown with the panic in
// its summary, so one broken checker never hides another's finding. No
// checkers at all is unknown: nothing was judged.
func Compose(ctx context.Context, in harness.CheckInput, cs ...harness.Checker) (harness.Validity, []harness.Result) {
	if len(cs) == 0 {
		return harness.Unknown, nil
	}
	results := make([]harness.Result, 0, len(cs))
	verdicts := make([]harness.Validity, 0, len(cs))
	for _, c := range cs {
		r := run(ctx, c, in)
		results = append(results, r)
		verdicts = append(verdicts, r.Validity)
	}
	return harness.Merge(verdicts...), results
}

func run(ctx context.Context, c harness.Checker, in harness.CheckInput) (r harness.Result) {
	defer func() {
		if p := recover(); p != nil {
			r = harness.Result{Checker: c.Name(), Validity: harness.Unknown,
				Summary: fmt.Sprintf("checker panicked: %v\n%s", p, debug.Stack())}
		}
	}()
	r = c.Check(ctx, in)
	if r.Checker == "" {
		r.Checker = c.Name()
	}
	switch r.Validity {
	case harness.Valid, harness.Invalid, harness.Unknown:
	default:
		// An empty or unexpected verdict must never read as a pass.
		r.Summary = fmt.Sprintf("checker returned verdict %q; treated as unknown. %s", r.Validity, r.Summary)
		r.Validity = harness.Unknown
	}
	return r
}
