// The observer: what a steered schedule sees of the run.

package harness

import (
	"context"
	"math/bits"
	"regexp"
	"slices"
	"time"
)

// observer turns the nodes' status and the history recorded since the last
// look into an Observation. It keeps what it has seen: classes of errors,
// latency regimes, the last leader, term and commit.
type observer struct {
	r             *run
	reportsLeader bool
	seen          int // history ops already read
	invoked       map[Process]int64
	errClasses    map[string]bool
	latencies     map[int]bool
	leader        string
	term, commit  uint64
}

func newObserver(r *run) *observer {
	return &observer{r: r, reportsLeader: ReportsLeader(r.p.System), invoked: map[Process]int64{},
		errClasses: map[string]bool{}, latencies: map[int]bool{}}
}

func (o *observer) observe(ctx context.Context) Observation {
	ob := Observation{At: o.r.hw.Since(), ReportsLeader: o.reportsLeader,
		Supported: map[Fault]bool{FaultLeader: o.reportsLeader}}
	for _, f := range []Fault{FaultPartition, FaultKill, FaultPause, FaultClock, FaultLoss, FaultLatency} {
		ob.Supported[f] = o.r.cluster.Supports(f)
	}
	o.status(ctx, &ob)
	o.history(&ob)
	return ob
}

// status asks every node about itself, at once. (The one place the
// observer calls the system.)
func (o *observer) status(ctx context.Context, ob *Observation) {
	nodes := o.r.cluster.Nodes()
	sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	sts, errs := nodeStatuses(sctx, o.r.p.System, o.r.cluster)
	cancel()
	var leadTerm uint64
	for i, st := range sts {
		if errs[i] != nil {
			ob.Down++
			continue
		}
		ob.Term = max(ob.Term, st.Term)
		ob.Commit = max(ob.Commit, st.Commit)
		if st.Role == "leader" {
			ob.Leaders++
			if st.Term >= leadTerm {
				ob.Leader, leadTerm = nodes[i], st.Term
			}
		}
	}
	ob.NewLeader = ob.Leader != o.leader || ob.Term != o.term
	ob.CommitStalled = ob.Commit <= o.commit
	o.leader, o.term, o.commit = ob.Leader, ob.Term, max(o.commit, ob.Commit)
}

// numbers and addresses vary between errors of one class.
var errNoise = regexp.MustCompile(`[0-9]+(\.[0-9]+)*(:[0-9]+)?`)

// history reads the client ops recorded since the last look: error classes
// never seen before, and whether the median latency fell in a new
// power-of-two bucket.
func (o *observer) history(ob *Observation) {
	tail := o.r.hw.tail(o.seen)
	var lat []int64
	for _, op := range tail {
		if op.IsNemesis() {
			continue
		}
		if op.Type == Invoke {
			o.invoked[op.Process] = op.Time
			continue
		}
		ob.Ops++
		if t0, ok := o.invoked[op.Process]; ok {
			lat = append(lat, op.Time-t0)
		}
		if op.Error == "" {
			continue
		}
		class := op.F + ": " + errNoise.ReplaceAllString(op.Error, "N")
		if !o.errClasses[class] {
			o.errClasses[class] = true
			ob.NewErrors = append(ob.NewErrors, class)
		}
	}
	o.seen += len(tail)
	if len(lat) > 0 {
		slices.Sort(lat)
		b := bits.Len64(uint64(max(lat[len(lat)/2], 1)))
		ob.NewLatency = !o.latencies[b]
		o.latencies[b] = true
	}
}
