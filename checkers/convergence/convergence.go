// Package convergence checks that after recovery every replica holds the same
// state, from the digests the runner collected from each node.
//
// Whole-state digests (raft mode) must be equal on every node. When every
// digest carries per-key Values (quorum mode, where a node holds only the
// keys the ring gives it), values are compared per key among the nodes that
// hold the key.
package convergence

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Checker is the convergence checker.
type Checker struct{}

// New returns a convergence checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "convergence" }

// Converged is the checker's verdict on a sample of digests: valid. The
// runner samples digests until it holds (or the recovery limit passes), so
// a replica still catching up after a heal is not taken for a divergent
// one: convergence is decided here, once, for the wait and the verdict.
func (c Checker) Converged(ds []harness.Digest) bool {
	return c.Check(context.Background(), harness.CheckInput{Digests: ds}).Validity == harness.Valid
}

// Divergence is one key (or, for whole digests, the whole state) on which
// nodes disagree: each distinct value with the nodes that hold it.
type Divergence struct {
	Key    string              `json:"key,omitempty"`
	Values map[string][]string `json:"values"` // value or digest -> nodes
}

// Details is what the checker reports.
type Details struct {
	Nodes       []harness.Digest `json:"nodes"`
	PerKey      bool             `json:"per_key"`
	Keys        int              `json:"keys_compared,omitempty"`
	Divergences []Divergence     `json:"divergences,omitempty"`
	Errors      []string         `json:"errors,omitempty"`
}

const maxDivergences = 50

func (c Checker) Check(ctx context.Context, in harness.CheckInput) harness.Result {
	res := harness.Result{Checker: c.Name()}
	d := Details{Nodes: in.Digests}
	defer func() {
		if b, err := json.Marshal(d); err == nil {
			res.Details = b
		}
	}()
	if len(in.Digests) == 0 {
		res.Validity = harness.Unknown
		res.Summary = "no digests collected: convergence was not checked"
		return res
	}
	var ok []harness.Digest
	for _, g := range in.Digests {
		if g.Error != "" {
			d.Errors = append(d.Errors, fmt.Sprintf("%s: %s", g.Node, g.Error))
			continue
		}
		ok = append(ok, g)
	}
	d.PerKey = len(ok) > 0
	for _, g := range ok {
		if g.Values == nil {
			d.PerKey = false
		}
	}
	diverged := 0
	if d.PerKey {
		holders := map[string]map[string][]string{} // key -> value -> nodes
		for _, g := range ok {
			for k, v := range g.Values {
				if holders[k] == nil {
					holders[k] = map[string][]string{}
				}
				holders[k][v] = append(holders[k][v], g.Node)
			}
		}
		keys := make([]string, 0, len(holders))
		for k := range holders {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d.Keys = len(keys)
		for _, k := range keys {
			if len(holders[k]) > 1 {
				diverged++
				if len(d.Divergences) < maxDivergences {
					d.Divergences = append(d.Divergences, Divergence{Key: k, Values: holders[k]})
				}
			}
		}
	} else {
		byDigest := map[string][]string{}
		for _, g := range ok {
			byDigest[g.Digest] = append(byDigest[g.Digest], g.Node)
		}
		if len(byDigest) > 1 {
			diverged = 1
			d.Divergences = []Divergence{{Values: byDigest}}
		}
	}
	switch {
	case diverged > 0:
		res.Validity = harness.Invalid
		res.Summary, res.Anomalies = describe(d, diverged, observedAt(in.History))
	case len(ok) == 0:
		res.Validity = harness.Unknown
		res.Summary = fmt.Sprintf("no node reported a digest, convergence unknown: %s", briefErrors(d.Errors))
	case len(d.Errors) > 0:
		res.Validity = harness.Unknown
		res.Summary = fmt.Sprintf("%d of %d nodes agree, but %d could not report a digest, convergence unknown: %s",
			len(ok), len(in.Digests), len(d.Errors), briefErrors(d.Errors))
	case d.PerKey:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("all %d nodes agree on every one of %d keys they hold", len(ok), d.Keys)
	default:
		res.Validity = harness.Valid
		res.Summary = fmt.Sprintf("all %d nodes report the same digest %s", len(ok), short(ok[0].Digest))
	}
	return res
}

// observedAt is when a divergence was seen: the digests are taken after the
// recovery reads, so after the history's last op. Time 0 would rank it
// before every other finding of the run.
func observedAt(h harness.History) int64 {
	var last int64
	for _, op := range h {
		last = max(last, op.Time)
	}
	return last
}

func describe(d Details, diverged int, at int64) (string, []harness.Anomaly) {
	var anomalies []harness.Anomaly
	for _, dv := range d.Divergences {
		vals := make([]string, 0, len(dv.Values))
		for v := range dv.Values {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		var parts []string
		for _, v := range vals {
			nodes := append([]string(nil), dv.Values[v]...)
			sort.Strings(nodes)
			parts = append(parts, fmt.Sprintf("%s hold %s", strings.Join(nodes, ","), short(v)))
		}
		what := "the nodes' states differ after recovery"
		if dv.Key != "" {
			what = fmt.Sprintf("replicas of %s differ after recovery", dv.Key)
		}
		anomalies = append(anomalies, harness.Anomaly{Checker: "convergence", Key: dv.Key, Time: at,
			Explanation: what + ": " + strings.Join(parts, "; ")})
	}
	sum := anomalies[0].Explanation
	if diverged > 1 {
		sum = fmt.Sprintf("%d of %d keys diverge; first: %s", diverged, d.Keys, sum)
	}
	if len(d.Errors) > 0 {
		sum += fmt.Sprintf(" (and %d nodes reported no digest)", len(d.Errors))
	}
	return sum, anomalies
}

// briefErrors keeps a summary to one line; Details has every error whole.
func briefErrors(errs []string) string {
	const each, most = 100, 2
	var parts []string
	for i, e := range errs {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-most))
			break
		}
		if r := []rune(e); len(r) > each {
			e = string(r[:each]) + "…"
		}
		parts = append(parts, e)
	}
	return strings.Join(parts, "; ")
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
