// The lock workload: workers acquire one of a few named locks (default 1,
// as Jepsen's etcd lock test), hold it for a short random time doing
// guarded work, and release it. An acquire may fail (the lock is held) or
// time out (info).
//
// A hold is 1 to maxGuarded guarded ops (F "hold", Key the lock, Value the
// work's length in milliseconds, 10 to 100): the client does the work only
// if, by what it can know (its lease), it holds the lock for the whole of
// it, and answers fail when it cannot. The release follows at once. A
// failed guarded op ends the hold early; a failed release is retried twice
// (the lock may still be the worker's), then given up. The checker
// (checkers/mutex) judges the holds: mutual exclusion, owners, and the
// fencing tokens an ok acquire carries in Value. docs/locks.md has the
// design.

package workloads

import (
	"math/rand"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/harness"
)

const (
	defaultLocks   = 1
	maxGuarded     = 3   // guarded ops per hold, at most
	minWorkMS      = 10  // a guarded op's length, at least
	maxWorkMS      = 100 // and at most
	releaseRetries = 2   // a failed release is tried again this often
)

func newLock(name string, o Options) (harness.Workload, error) {
	if err := unused(name, o, knobKeys); err != nil {
		return nil, err
	}
	if o.Keys <= 0 {
		o.Keys = defaultLocks
	}
	w := &lockWorkload{name: name, opts: o}
	for i := range o.Keys {
		w.locks = append(w.locks, "lock"+strconv.Itoa(i))
	}
	return w, nil
}

type lockWorkload struct {
	name  string
	opts  Options
	locks []string
}

func (w *lockWorkload) Name() string { return w.name }

// Knobs are the options as resolved (Keys: how many locks).
func (w *lockWorkload) Knobs() Options { return w.opts }

// Needs: acquire and release of named locks.
func (w *lockWorkload) Needs() []harness.Feature { return []harness.Feature{harness.FeatureLock} }

func (w *lockWorkload) Checkers() []harness.Checker {
	return []harness.Checker{mutex.New(w.opts.CheckTimeout), stats.New()}
}

func (w *lockWorkload) Generator(rng *rand.Rand) harness.Generator {
	return &lockGen{locks: w.locks, rng: rng, procs: map[harness.Process]*lockProc{}}
}

type lockGen struct {
	locks []string
	rng   *rand.Rand
	procs map[harness.Process]*lockProc
}

// lockProc is what one process is doing.
type lockProc struct {
	key     string
	held    bool // its acquire was ok and it has not begun to let go
	work    int  // guarded ops still to do
	release int  // releases tried and failed
	busy    bool // a release is due (after the work, or a failed one)
}

// Keys: none. A lock has nothing to read after the heal, and a hold cut
// off by the end of the run may keep a lock taken for as long as its lease.
func (g *lockGen) Keys() []string { return nil }

func (g *lockGen) Next(p harness.Process) harness.Op {
	s := g.procs[p]
	switch {
	case s == nil || (!s.held && !s.busy):
		s = &lockProc{key: g.locks[g.rng.Intn(len(g.locks))]}
		g.procs[p] = s
		return harness.Op{F: harness.FAcquire, Key: s.key}
	case s.held && s.work > 0:
		ms := minWorkMS + g.rng.Intn(maxWorkMS-minWorkMS+1)
		return harness.Op{F: mutex.FHold, Key: s.key, Value: harness.Str(strconv.Itoa(ms))}
	default:
		return harness.Op{F: harness.FRelease, Key: s.key}
	}
}

// Observe moves the process on: a hold after an ok acquire, the release
// after the work.
func (g *lockGen) Observe(done harness.Op) {
	s := g.procs[done.Process]
	if s == nil {
		return
	}
	if done.Type == harness.Info {
		// The runner continues the worker as a new process.
		delete(g.procs, done.Process)
		return
	}
	ok := done.Type == harness.OK
	switch done.F {
	case harness.FAcquire:
		if ok {
			s.held, s.busy, s.work = true, true, 1+g.rng.Intn(maxGuarded)
		}
	case mutex.FHold:
		s.work--
		if !ok {
			s.work = 0 // the lock is lost: release what may remain of it
		}
	case harness.FRelease:
		s.held = false
		if !ok && s.release < releaseRetries {
			s.release++
			return
		}
		s.busy = false
	}
}
