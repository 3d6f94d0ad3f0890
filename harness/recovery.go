// Recovery: every key is read again after the heal, and the nodes' digests
// are sampled until they show convergence.

package harness

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// RecoveryChecker names the runner's own result for the recovery phase.
const RecoveryChecker = "recovery"

// recoverPhase reads every key the generator used until each read succeeds or
// the recovery limit expires. The reads are part of the history (they are
// the final reads the checkers see). A key that cannot be read after every
// fault was healed is a finding: the runner reports it as an invalid
// "recovery" result, since a system that never serves again is broken even
// if everything it did serve was correct. It returns that result (none
// when the run was interrupted: not a finding about the system).
func (r *run) recoverPhase(ctx context.Context) (*Result, error) {
	r.genMu.Lock()
	var keys []string
	if r.gen != nil {
		keys = append(keys, r.gen.Keys()...)
	}
	r.genMu.Unlock()
	if len(keys) == 0 {
		return &Result{Checker: RecoveryChecker, Validity: Valid, Summary: "no keys to read"}, nil
	}
	limit := r.t.RecoveryLimit.D()
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t0 := time.Now()

	// A read is key i started at node i, or, for an EveryNodeReader, one
	// read of key i started at every node n (task i*perKey+n).
	perKey := 1
	r.genMu.Lock()
	if e, ok := r.gen.(EveryNodeReader); ok && e.FinalReadsEveryNode() {
		perKey = len(r.nodes)
	}
	r.genMu.Unlock()
	keyc := make(chan int, len(keys)*perKey)
	for i := range len(keys) * perKey {
		keyc <- i
	}
	close(keyc)
	var mu sync.Mutex
	failed := map[string]string{} // key -> last error
	readers := min(r.t.Concurrency, len(keys)*perKey)
	var wg sync.WaitGroup
	for w := 0; w < readers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients := map[string]Client{}
			defer func() {
				for _, c := range clients {
					_ = c.Close()
				}
			}()
			rd := &reader{r: r, clients: clients, proc: Process(r.maxProc.Add(1))}
			for t := range keyc {
				i, start := t/perKey, t/perKey
				if perKey > 1 {
					start = t % perKey
				}
				if last, ok := rd.read(rctx, keys[i], start); !ok {
					mu.Lock()
					failed[keys[i]] = last
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err() // interrupted: not a finding about the system
	}
	res := recoveryResult(keys, failed, time.Since(t0), limit, int64(r.hw.Since()))
	return &res, nil
}

// recoveryResult judges the recovery reads: a key that could not be read
// after every fault was healed is a finding.
func recoveryResult(keys []string, failed map[string]string, took, limit time.Duration, now int64) Result {
	res := Result{Checker: RecoveryChecker, Validity: Valid,
		Summary: fmt.Sprintf("all %d keys read after healing, within %s", len(keys), took.Round(time.Millisecond))}
	if len(failed) == 0 {
		return res
	}
	bad := make([]string, 0, len(failed))
	for k := range failed {
		bad = append(bad, k)
	}
	sort.Strings(bad)
	res.Validity = Invalid
	res.Summary = fmt.Sprintf("%d of %d keys could not be read within %s after every fault was healed", len(bad), len(keys), limit)
	for _, k := range bad {
		why := failed[k]
		if why == "" {
			why = "no answer"
		}
		res.Anomalies = append(res.Anomalies, Anomaly{Checker: RecoveryChecker, Key: k, Time: now,
			Explanation: fmt.Sprintf("the cluster did not serve a read of %s within %s after every fault was healed (last error: %s)", k, limit, why)})
	}
	return res
}

// reader is one recovery reader: its clients (one per node) and process.
type reader struct {
	r       *run
	clients map[string]Client
	proc    Process
}

// read reads key until a read succeeds or ctx ends, trying the nodes in
// turn from the i-th; it returns the last error if none succeeded.
func (rd *reader) read(ctx context.Context, key string, i int) (last string, ok bool) {
	r := rd.r
	for attempt := 0; ctx.Err() == nil; attempt++ {
		node := r.nodes[(i+attempt)%len(r.nodes)]
		c := rd.clients[node]
		if c == nil {
			var err error
			if c, err = r.p.System.NewClient(r.cluster.Node(node)); err != nil {
				last = err.Error()
				time.Sleep(50 * time.Millisecond)
				continue
			}
			rd.clients[node] = c
		}
		inv := r.finalRead(key)
		inv.Process, inv.Type, inv.Node = rd.proc, Invoke, node
		inv = r.hw.Record(inv)
		done, abandoned := r.invoke(ctx, c, inv)
		r.count(done.Type)
		if abandoned {
			delete(rd.clients, node)
		}
		if done.Type == OK {
			return "", true
		}
		last = done.Error
		if done.Type == Info {
			rd.proc = Process(r.maxProc.Add(1))
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return last, false
}

// finalRead is the invocation that reads key in the recovery phase: the
// generator's own (FinalReader), else a read.
func (r *run) finalRead(key string) Op {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	if f, ok := r.gen.(FinalReader); ok {
		return f.FinalRead(key)
	}
	return Op{F: FRead, Key: key}
}

// collectDigests lets the system converge if it needs a pass (quorum read
// repair), then samples every node's digest until the workload's
// convergence checker says they converged or the recovery limit passes; the
// checker judges the last sample. Without such a checker one sample is
// taken.
//
// A system that makes no digests (not a Digester, or ErrUnsupported from
// every node) is not waited for: convergence is then not judged. It
// returns the sample the checker is to judge.
func (r *run) collectDigests(ctx context.Context) (last []Digest, err error) {
	if !Has(r.p.System, CapDigest) {
		return nil, nil
	}
	var errs []error
	if cv, ok := r.p.System.(Converger); ok {
		// The pass and the sampling have a bound each: a pass that hangs
		// must still leave time to see what the nodes hold.
		cctx, cancel := context.WithTimeout(ctx, r.t.RecoveryLimit.D())
		defer cancel()
		r.genMu.Lock()
		var keys []string
		if r.gen != nil {
			keys = append(keys, r.gen.Keys()...)
		}
		r.genMu.Unlock()
		if err := cv.Converge(cctx, NodesOf(r.cluster), keys); err != nil {
			errs = append(errs, fmt.Errorf("converge: %w", err))
			r.log.Warn("converge", "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, r.t.RecoveryLimit.D())
	defer cancel()
	converged := r.convergedBy()
	// The limit ends the sampling between samples, never inside one: a
	// sample taken with an expired context would show only deadline errors
	// and hide the divergence the earlier samples saw.
	var still time.Time // since when the samples have not changed
	// Applied is a log index only where a leader orders one log; a
	// leaderless store's count of applied writes says nothing of equality.
	logIndexed := ReportsLeader(r.p.System)
	for {
		d, unsupported := r.sampleDigests(ctx)
		if unsupported {
			return nil, errors.Join(errs...)
		}
		if ctx.Err() != nil && last != nil {
			break // cut short by the limit: keep the last whole sample
		}
		if still.IsZero() || !sameSample(last, d) {
			still = time.Now()
		}
		last = d
		if converged == nil || converged(d) {
			break // nothing judges convergence: one sample is all there is to show
		}
		if logIndexed && time.Since(still) >= settleFor && settledApart(d) {
			r.log.Info("digests settled apart: nodes that applied as much hold different states; not waiting for the recovery limit")
			break
		}
		select {
		case <-ctx.Done():
			return last, errors.Join(errs...)
		case <-time.After(250 * time.Millisecond):
		}
	}
	return last, errors.Join(errs...)
}

// convergedBy is the criterion of the workload's checker that judges
// convergence (one with a Converged method, as checkers/convergence has), or
// nil if none does: the checker decides, the runner only waits for it.
func (r *run) convergedBy() func([]Digest) bool {
	for _, c := range r.p.Workload.Checkers() {
		if j, ok := c.(interface{ Converged([]Digest) bool }); ok {
			return j.Converged
		}
	}
	return nil
}

// settleFor is how long samples must stay the same before a divergence of
// nodes at the same applied index is taken as final.
const settleFor = time.Second

// settledApart: two nodes that applied the same prefix of one log (the
// same Applied > 0, on a system with a leader) hold different states. A
// replicated state machine cannot get there and back: the divergence is
// final, and waiting out the recovery limit (30 s) would only delay the
// verdict, which the convergence checker still gives. The sample must also
// have stayed unchanged for settleFor, so a digest read while its node was
// applying is not taken for one.
func settledApart(ds []Digest) bool {
	byApplied := map[uint64]string{}
	for _, d := range ds {
		if d.Error != "" || d.Applied == 0 {
			continue
		}
		if prev, ok := byApplied[d.Applied]; ok && prev != d.Digest {
			return true
		}
		byApplied[d.Applied] = d.Digest
	}
	return false
}

// sameSample: every node reports the same digest and applied index as
// before, without errors.
func sameSample(a, b []Digest) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Error != "" || b[i].Error != "" || a[i].Node != b[i].Node ||
			a[i].Digest != b[i].Digest || a[i].Applied != b[i].Applied {
			return false
		}
	}
	return true
}

// sampleDigests asks every node for its digest; unsupported is true when
// every node said the system makes none.
func (r *run) sampleDigests(ctx context.Context) (out []Digest, unsupported bool) {
	out = make([]Digest, len(r.nodes))
	var refused atomic.Int32
	var wg sync.WaitGroup
	for i, n := range r.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			d, err := DigestOf(dctx, r.p.System, r.cluster.Node(n))
			d.Node = n
			if errors.Is(err, ErrUnsupported) {
				refused.Add(1)
			}
			if err != nil {
				d.Error = err.Error()
			}
			out[i] = d
		}()
	}
	wg.Wait()
	return out, int(refused.Load()) == len(out)
}
