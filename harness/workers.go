// The main phase: client workers driven by the generator, paced, with an
// optional online check.

package harness

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// seedFor derives an independent seed per purpose (splitmix64), so that the
// generator's and the nemesis's draws do not disturb each other on replay.
func seedFor(seed int64, stream uint64) int64 {
	z := uint64(seed) + stream*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return int64(z ^ (z >> 31))
}

const (
	streamGenerator = 1
	streamNemesis   = 2
)

// mainPhase runs the workers and the fault schedule until the time limit
// (or an early end) and returns how long it ran: the test time.
func (r *run) mainPhase(ctx context.Context) (time.Duration, error) {
	r.gen = r.p.Workload.Generator(rand.New(rand.NewSource(seedFor(r.t.Seed, streamGenerator))))
	clients := make([]Client, r.t.Concurrency)
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	for w := range clients {
		node := r.nodes[w%len(r.nodes)]
		c, err := r.p.System.NewClient(r.cluster.Node(node))
		if err != nil {
			return 0, fmt.Errorf("client for %s: %w", node, err)
		}
		clients[w] = c
	}

	r.mainT0 = time.Now()
	r.hw.restart(r.mainT0)
	mctx, cancel := context.WithTimeout(ctx, r.t.TimeLimit.D())
	defer cancel()
	defer r.endedEarly(cancel)()

	var pace *pacer
	if r.t.Rate > 0 {
		pace = &pacer{gap: time.Duration(float64(time.Second) / r.t.Rate)}
	}
	var wg sync.WaitGroup
	errc := make(chan error, r.t.Concurrency+1)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.worker(ctx, mctx, w, &clients[w], pace); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		defer func() {
			if v := recover(); v != nil {
				errc <- fmt.Errorf("nemesis panic: %v\n%s", v, debug.Stack())
				cancel()
			}
		}()
		r.nemesis(ctx, mctx)
	}()
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		r.progressLoop(mctx)
	}()
	onlineDone := make(chan struct{})
	go func() {
		defer close(onlineDone)
		if r.t.StopOnViolation {
			r.onlineCheck(mctx)
		}
	}()

	wg.Wait()
	cancel()
	<-nemDone
	<-progDone
	<-onlineDone
	took := time.Since(r.mainT0)
	if r.ended.Err() != nil {
		r.log.Info("main phase ended early", "cause", context.Cause(r.ended))
	}
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return took, errors.Join(errs...)
}

// onlineCheck, for --stop-on-violation, runs the workload's checkers on the
// history so far every few seconds and ends the main phase once one says
// invalid. This is sound: ops still in flight count as unknown, so a
// violation in a prefix is one in the whole history (checkers whose
// verdicts a later op could undo are told it is a prefix). The final
// verdict still comes from the full check.
func (r *run) onlineCheck(mctx context.Context) {
	const every = 2 * time.Second
	for {
		select {
		case <-mctx.Done():
			return
		case <-time.After(every):
		}
		in := CheckInput{History: r.hw.History(), Prefix: true} // Dir "": no artifacts
		for _, res := range Check(mctx, r.p.Workload.Checkers(), in, r.t.CheckTimeout.D(), nil) {
			if res.Validity == Invalid && mctx.Err() == nil {
				r.log.Info("online check found a violation; ending the main phase", "checker", res.Checker)
				r.endMain(errViolation)
				return
			}
		}
	}
}

// worker drives one client: worker w starts as process w and, after each
// info, continues as process w+Concurrency·k, so every process has at most
// one op outstanding and an unknown outcome never blocks later ops.
// Ops run under ctx (not mctx): an op in flight when the time limit
// expires completes normally, bounded by the op timeout. A client whose call
// outlives the op timeout is abandoned and replaced (see invoke), so no
// client can hold the worker past the time limit.
func (r *run) worker(ctx, mctx context.Context, w int, slot *Client, pace *pacer) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("worker %d panic: %v\n%s", w, v, debug.Stack())
		}
	}()
	node := r.nodes[w%len(r.nodes)]
	proc := Process(w)
	r.noteProc(proc)
	for mctx.Err() == nil {
		if pace != nil && !pace.wait(mctx) {
			return nil
		}
		next := r.next(proc)
		next.Process, next.Type, next.Node = proc, Invoke, node
		inv := r.hw.Record(next)
		done, abandoned := r.invoke(ctx, *slot, inv)
		r.count(done.Type)
		r.observe(done)
		if abandoned {
			c, err := r.p.System.NewClient(r.cluster.Node(node))
			if err != nil {
				*slot = nil
				return fmt.Errorf("worker %d: new client for %s after an abandoned call: %w", w, node, err)
			}
			*slot = c
		}
		if done.Type == Info {
			proc += Process(r.t.Concurrency)
			r.noteProc(proc)
		}
		if done.Type != OK && time.Duration(done.Time-inv.Time) < fastFailure {
			// The node refused at once (killed, not yet up): do not spin
			// and starve the cluster of CPU with thousands of failed ops.
			select {
			case <-mctx.Done():
			case <-time.After(failureBackoff):
			}
		}
	}
	return nil
}

// A worker whose op failed within fastFailure waits failureBackoff.
const (
	fastFailure    = 2 * time.Millisecond
	failureBackoff = 20 * time.Millisecond
)

func (r *run) next(p Process) Op {
	r.genMu.Lock()
	defer r.genMu.Unlock()
	return r.gen.Next(p)
}

// observe shows a completion to a generator that watches them (Observer).
func (r *run) observe(done Op) {
	if o, ok := r.gen.(Observer); ok {
		r.genMu.Lock()
		defer r.genMu.Unlock()
		o.Observe(done)
	}
}

// opGrace is how long past its deadline a client's call may run before the
// runner stops waiting for it.
const opGrace = 200 * time.Millisecond

// invoke calls the client and records the completion. A client that panics
// or answers nonsense yields info: nothing is known of the op. A call that
// has not returned opGrace after the op's deadline (or after ctx ends, on
// Ctrl-C) is abandoned: the op is recorded info, and abandoned tells the
// caller to use a new client (the old one is closed once its call returns).
func (r *run) invoke(ctx context.Context, c Client, inv Op) (done Op, abandoned bool) {
	octx, cancel := context.WithTimeout(ctx, r.t.OpTimeout.D())
	defer cancel()
	resc := make(chan Op, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				op := inv.Complete(Info)
				op.Error = fmt.Sprintf("client panic: %v", v)
				r.log.Error("client panic", "op", inv.String(), "panic", v, "stack", string(debug.Stack()))
				resc <- op
			}
		}()
		resc <- c.Invoke(octx, inv)
	}()
	select {
	case done = <-resc:
	case <-octx.Done():
		grace := time.NewTimer(opGrace)
		select {
		case done = <-resc:
		case <-grace.C:
			abandoned = true
			done = inv.Complete(Info)
			done.Error = fmt.Sprintf("the client did not return within the op timeout (%s); call abandoned", r.t.OpTimeout.D())
			r.log.Warn("client call abandoned", "op", inv.String())
			go func() {
				<-resc
				_ = c.Close()
			}()
		}
		grace.Stop()
	}
	switch done.Type {
	case OK, Fail, Info:
	default:
		done.Error = strings.TrimSpace(done.Error + fmt.Sprintf(" (client returned type %q)", done.Type))
		done.Type = Info
	}
	done.Process, done.F, done.Key, done.Node = inv.Process, inv.F, inv.Key, inv.Node
	if done.Type != OK || inv.F != FRead {
		// What was attempted stays known to the checker (an info write's value).
		if done.Value == nil {
			done.Value = inv.Value
		}
		if done.From == nil {
			done.From = inv.From
		}
	}
	return r.hw.Record(done), abandoned
}

func (r *run) count(t Type) {
	switch t {
	case OK:
		r.okN.Add(1)
	case Fail:
		r.failN.Add(1)
	default:
		r.infoN.Add(1)
	}
}

func (r *run) noteProc(p Process) {
	for {
		cur := r.maxProc.Load()
		if int64(p) <= cur || r.maxProc.CompareAndSwap(cur, int64(p)) {
			return
		}
	}
}

// pacer spaces ops evenly to a total rate across workers.
type pacer struct {
	mu   sync.Mutex
	next time.Time
	gap  time.Duration
}

func (p *pacer) wait(ctx context.Context) bool {
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.gap)
	p.mu.Unlock()
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
