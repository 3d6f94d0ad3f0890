// Election safety: at most one leader per term, checked on the statuses of
// a system whose role and term are one snapshot (ElectionReporter).
//
// What is sampled when: every node's status, every electionEvery, from the
// start of the wait for a healthy cluster until teardown. For a system
// whose leader changes meaning at its Setup step (SetupElector), the
// samples before Setup starts are the cluster's election and those after
// it returns the new resource's; the two are judged apart (their terms are
// different counters), no streak spans the step, and samples taken while
// it runs, or that it began or ended during, are dropped.

package harness

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ElectionChecker names the runner's result for election safety.
const ElectionChecker = "election-safety"

// ByRunner tells whether a result is the runner's own finding, from what
// it saw during the run (recovery reads, node statuses) rather than from
// the history: checking a history again keeps such results as they were.
func ByRunner(checker string) bool {
	return checker == RecoveryChecker || checker == ElectionChecker
}

// electionEvery is how often every node's status is sampled. A second
// leader of a term lasts until it hears of a higher term, at least a
// heartbeat and usually an election timeout: a few samples.
const electionEvery = 100 * time.Millisecond

// leadership is one node saying it leads a term, over consecutive samples.
type leadership struct {
	node                string
	election            election
	term                uint64
	samples             int
	from, to, confirmed time.Time // confirmed: its second sample
}

// election is whose terms a sample's are: the whole run's, or, for a
// SetupElector, the cluster's before setup or the resource's after it.
type election int32

const (
	electionRun         election = iota // one election for the whole run
	electionBeforeSetup                 // the cluster's, until Setup starts
	electionInSetup                     // Setup is running: samples dropped
	electionAfterSetup                  // the resource's, once Setup returned
)

func (e election) String() string {
	return [...]string{"", "the cluster's election before setup", "", "the election after setup"}[e]
}

// termOf is a term of one election.
type termOf struct {
	election election
	term     uint64
}

// electionWatch samples statuses from the wait for a healthy cluster until
// the run is torn down (two leaders elected at boot are a violation too). A
// claim counts once a node has said it in two samples in a row: a status
// read in parts (role, then term) can pair a role with a term it never held
// together, but not twice alike.
type electionWatch struct {
	r       *run
	stop    context.CancelFunc
	done    chan struct{}
	once    sync.Once
	samples int
	streak  map[string]*leadership   // the node's current run of leader samples
	claims  map[termOf][]*leadership // confirmed, by term
	found   func()                   // called at the first violation, if not nil
	bad     atomic.Bool              // a violation was found
	// now is the election samples belong to, set by the runner around a
	// SetupElector's Setup; last is the one the streaks were built in.
	now, last election
	nowMu     sync.Mutex
}

// watchElections starts the watch if the system declares its statuses fit
// (nil otherwise). found is called at the first violation.
func (r *run) watchElections(ctx context.Context, found func()) *electionWatch {
	if !ReportsElections(r.p.System) {
		return nil
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w := &electionWatch{r: r, stop: stop, done: make(chan struct{}), found: found,
		streak: map[string]*leadership{}, claims: map[termOf][]*leadership{}}
	if ElectsAtSetup(r.p.System) {
		w.now, w.last = electionBeforeSetup, electionBeforeSetup
	}
	go w.loop(ctx)
	return w
}

// setup moves the watch to e (electionInSetup when a SetupElector's Setup
// starts, electionAfterSetup once it returned); nothing for other systems.
func (w *electionWatch) setup(e election) {
	if w == nil {
		return
	}
	w.nowMu.Lock()
	defer w.nowMu.Unlock()
	if w.now != electionRun {
		w.now = e
	}
}

func (w *electionWatch) current() election {
	w.nowMu.Lock()
	defer w.nowMu.Unlock()
	return w.now
}

// violated tells whether two leaders of one term were seen so far.
func (w *electionWatch) violated() bool { return w != nil && w.bad.Load() }

func (w *electionWatch) loop(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(electionEvery)
	defer t.Stop()
	for {
		w.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample asks every node at once; a node that does not answer keeps its
// streak (a paused leader still says it leads when it wakes).
func (w *electionWatch) sample(ctx context.Context) {
	e := w.current()
	if e == electionInSetup {
		return
	}
	nodes := w.r.cluster.Nodes()
	sctx, cancel := context.WithTimeout(ctx, 3*electionEvery)
	sts, errs := nodeStatuses(sctx, w.r.p.System, w.r.cluster)
	cancel()
	if ctx.Err() != nil || w.current() != e {
		return // Setup started or ended while the nodes answered
	}
	if e != w.last {
		clear(w.streak) // no claim spans two elections
		w.last = e
	}
	at := time.Now()
	w.samples++
	for i, n := range nodes {
		if errs[i] == nil {
			w.see(n, sts[i], at)
		}
	}
}

// see takes one answer of node: a leader sample extends or starts its
// streak; the second sample alike confirms the claim.
func (w *electionWatch) see(node string, st NodeStatus, at time.Time) {
	cur := w.streak[node]
	if st.Role != "leader" {
		delete(w.streak, node)
		return
	}
	if cur == nil || cur.term != st.Term {
		w.streak[node] = &leadership{node: node, election: w.last, term: st.Term, from: at, to: at, samples: 1}
		return
	}
	cur.to, cur.samples = at, cur.samples+1
	if cur.samples != 2 {
		return
	}
	cur.confirmed = at
	k := termOf{cur.election, cur.term}
	w.claims[k] = append(w.claims[k], cur)
	if len(leaders(w.claims[k])) == 2 && !w.bad.Load() {
		w.bad.Store(true)
		if w.found != nil {
			w.found()
		}
	}
}

// leaders are the distinct nodes of claims, in the order they were
// confirmed. (One node may lead a term in two streaks, around a sample
// that found it stepped down.)
func leaders(claims []*leadership) []string {
	var out []string
	for _, c := range claims {
		if !slices.Contains(out, c.node) {
			out = append(out, c.node)
		}
	}
	return out
}

// finish stops the sampling and judges what it saw; times are counted from
// the start of the main phase, or of the run if the main phase never began.
func (w *electionWatch) finish() Result {
	w.once.Do(func() {
		w.stop()
		<-w.done
	})
	if w.r.mainT0.IsZero() {
		return w.result(w.r.start, "times are from the start of the run: the main phase never began")
	}
	return w.result(w.r.mainT0, "")
}

// result judges the claims; times count from t0, and note (if any) says
// from what.
func (w *electionWatch) result(t0 time.Time, note string) Result {
	// A leadership as details.json shows it: times in ns since t0.
	type shown struct {
		Node     string `json:"node"`
		Election string `json:"election,omitempty"` // "before-setup" or "after-setup" for a SetupElector
		Term     uint64 `json:"term"`
		From     int64  `json:"from"`
		To       int64  `json:"to"`
		Samples  int    `json:"samples"`
	}
	var all []shown
	var bad []termOf
	for k, cs := range w.claims {
		for _, c := range cs {
			name := map[election]string{electionBeforeSetup: "before-setup", electionAfterSetup: "after-setup"}[c.election]
			all = append(all, shown{c.node, name, c.term, int64(c.from.Sub(t0)), int64(c.to.Sub(t0)), c.samples})
		}
		if len(leaders(cs)) > 1 {
			bad = append(bad, k)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].From < all[j].From })
	slices.SortFunc(bad, func(a, b termOf) int {
		if a.election != b.election {
			return int(a.election - b.election)
		}
		return cmp.Compare(a.term, b.term)
	})
	details, _ := json.Marshal(struct {
		EveryMS int64   `json:"every_ms"`
		Samples int     `json:"samples"`
		Leaders []shown `json:"leaders"`
	}{electionEvery.Milliseconds(), w.samples, all})
	res := Result{Checker: ElectionChecker, Validity: Valid, Details: details,
		Summary: fmt.Sprintf("one leader per term: %d leaderships in %d terms, in %d status samples of every node, %s apart%s",
			len(all), len(w.claims), w.samples, electionEvery, w.split())}
	if len(bad) == 0 {
		return res
	}
	res.Validity = Invalid
	res.Summary = fmt.Sprintf("%d terms had two leaders or more (%d status samples of every node, %s apart)", len(bad), w.samples, electionEvery)
	for _, k := range bad {
		cs, term := w.claims[k], k.term
		var who []string
		var at time.Time // when the term had its second leader
		for _, c := range cs {
			who = append(who, fmt.Sprintf("%s from %s to %s (%d samples)", c.node, seconds(c.from.Sub(t0)), seconds(c.to.Sub(t0)), c.samples))
			if at.IsZero() && c.node != cs[0].node {
				at = c.confirmed
			}
		}
		when := ""
		switch {
		case note != "":
			when = " (" + note + ")"
		case cs[0].from.Before(t0):
			when = " (times before 0 are before the main phase, while the cluster was starting)"
		}
		of := ""
		if k.election != electionRun {
			of = " of " + k.election.String()
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Checker: ElectionChecker, Time: max(0, int64(at.Sub(t0))),
			Explanation: fmt.Sprintf("%s each said, in consecutive status samples, that they led term %d%s: %s%s. "+
				"A term has at most one leader (election safety): some node granted its vote twice in the term, or a node took leadership without a majority.",
				strings.Join(leaders(cs), " and "), term, of, strings.Join(who, "; "), when)})
	}
	return res
}

// split says, for a SetupElector, how the leaderships divide between the
// two elections ("" for other systems).
func (w *electionWatch) split() string {
	if w.last == electionRun {
		return ""
	}
	var n, terms [electionAfterSetup + 1]int
	for k, cs := range w.claims {
		terms[k.election]++
		n[k.election] += len(cs)
	}
	return fmt.Sprintf(" (the leader changes meaning at setup, and each election is judged alone: %d in %d terms before setup, %d in %d after)",
		n[electionBeforeSetup], terms[electionBeforeSetup], n[electionAfterSetup], terms[electionAfterSetup])
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}
