package harness

import (
	"fmt"
	"slices"
	"strings"
)

// Feature names a kind of operation beyond read, write and cas. A workload
// that needs one runs only on a system whose clients perform it; anything
// else is refused before the run starts (exit 64), never found out halfway.
type Feature string

const (
	FeatureTxnAppend Feature = "txn-append" // transactions of append and list reads (list-append)
	FeatureTxnRW     Feature = "txn-rw"     // transactions of register reads and writes (rw-register)
	FeatureTxnAdd    Feature = "txn-add"    // transactions of add, register reads and integer writes (bank)
	FeatureLock      Feature = "lock"       // acquire and release of a named lock
	FeatureSet       Feature = "set"        // add an element, read the whole set
	FeatureCounter   Feature = "counter"    // add a signed delta, read the count
)

// FeatureSystem is a system whose clients perform operations beyond read,
// write and cas; Features lists them. Without it a system offers none.
type FeatureSystem interface {
	Features() []Feature
}

// FeatureGap is a system that says why it lacks a feature: the refusal of a
// workload that needs it then gives the reason ("its replicas apply each key
// independently, so it has no atomic multi-key transactions").
type FeatureGap interface {
	Lacks(f Feature) string // "" when it has nothing to say
}

// ConsistencySystem is a system that promises a consistency model for its
// transactions, named as the isolation checker names them ("serializable",
// "strict-serializable", …): transactional workloads are judged against it
// unless the test names another (--consistency).
type ConsistencySystem interface {
	Consistency() string
}

// ConsistencyOf is the model sys promises, "" if it declares none.
func ConsistencyOf(sys System) string {
	if c, ok := sys.(ConsistencySystem); ok {
		return c.Consistency()
	}
	return ""
}

// FeatureWorkload is a workload that needs features of the system it runs on.
type FeatureWorkload interface {
	Needs() []Feature
}

// FeaturesOf lists what sys's clients perform beyond read, write and cas.
func FeaturesOf(sys System) []Feature {
	if f, ok := sys.(FeatureSystem); ok {
		return f.Features()
	}
	return nil
}

// NeedsOf lists the features w needs.
func NeedsOf(w Workload) []Feature {
	if f, ok := w.(FeatureWorkload); ok {
		return f.Needs()
	}
	return nil
}

// Serves returns nil if sys offers everything w needs, else an error that
// names what is missing and what sys offers.
func Serves(sys System, w Workload) error {
	have := FeaturesOf(sys)
	var missing []string
	for _, f := range NeedsOf(w) {
		if !slices.Contains(have, f) {
			missing = append(missing, string(f))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	offers := "only read, write and cas"
	if len(have) > 0 {
		names := make([]string, len(have))
		for i, f := range have {
			names[i] = string(f)
		}
		offers = "read, write, cas and " + strings.Join(names, ", ")
	}
	err := fmt.Errorf("workload %q needs %s, which system %q does not offer (its clients perform %s)",
		w.Name(), strings.Join(missing, ", "), sys.Name(), offers)
	if g, ok := sys.(FeatureGap); ok {
		var why []string
		for _, f := range missing {
			if r := g.Lacks(Feature(f)); r != "" && !slices.Contains(why, r) {
				why = append(why, r)
			}
		}
		if len(why) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.Join(why, "; "))
		}
	}
	return err
}
