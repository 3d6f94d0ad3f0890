package sim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Run calls f in a synctest bubble of its own and returns when f and every
// goroutine f started have returned. Inside, time is virtual: it stands
// still while any goroutine of the bubble runs and jumps to the next timer
// when all of them wait (on channels, sync.Cond, timers; not on real
// sockets or files, which is why a simulated world has its own network).
//
// A bubble needs a *testing.T. Inside `go test`, pass yours with RunTest; a
// program (the gauntlet command) gets one from a test host this package
// starts once through testing.MainStart, whose test runs the bubbles it is
// handed on GOMAXPROCS parallel subtests: Run may be called from several
// goroutines at once, and that many bubbles run at a time.
//
// The error says the bubble deadlocked: every goroutine blocked for good
// (a node or a client waiting on something that will never happen), or f
// returned with goroutines still blocked (something was left running).
func Run(f func()) error {
	startHost()
	r := request{f: f, done: make(chan error, 1)}
	requests <- r
	return <-r.done
}

// RunTest is Run on t, for tests.
func RunTest(t *testing.T, f func()) error {
	return bubble(t, f)
}

type testKey struct{}

// WithTest returns a context under which RunContext makes its bubble on t
// (a test's own, inside `go test`) instead of the program's test host.
func WithTest(ctx context.Context, t *testing.T) context.Context {
	return context.WithValue(ctx, testKey{}, t)
}

// RunContext is RunTest on the test ctx carries (WithTest), else Run.
func RunContext(ctx context.Context, f func()) error {
	if t, ok := ctx.Value(testKey{}).(*testing.T); ok {
		return RunTest(t, f)
	}
	return Run(f)
}

func bubble(t *testing.T, f func()) (err error) {
	defer gcBoost()()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("simulation: %v%s", v, blockedStacks())
		}
	}()
	synctest.Test(t, func(*testing.T) { f() })
	return nil
}

type request struct {
	f    func()
	done chan error
}

var (
	hostOnce sync.Once
	requests = make(chan request)
)

func startHost() {
	hostOnce.Do(func() {
		// One parallel subtest per processor, each running one bubble
		// after another: bubbles are independent worlds, so a campaign's
		// parallel runs use every core.
		host := func(t *testing.T) {
			for i := range runtime.GOMAXPROCS(0) {
				t.Run(fmt.Sprint(i), func(t *testing.T) {
					t.Parallel()
					for r := range requests {
						r.done <- bubble(t, r.f)
					}
				})
			}
		}
		m := testing.MainStart(hostDeps{}, []testing.InternalTest{{Name: "GauntletSimulation", F: host}}, nil, nil, nil)
		if !flag.Parsed() {
			// M.Run parses the command line otherwise; the testing flags
			// keep their defaults (no timeout, no profiles).
			_ = flag.CommandLine.Parse(nil)
		}
		go m.Run()
	})
}

// hostDeps is the testDeps of testing.MainStart for a program that only
// runs bubbles: no profiles, no fuzzing, no coverage. MainStart "is not
// subject to the Go 1 compatibility document"; this matches Go 1.26 (the
// go directive of go.mod), and a mismatch fails to compile, not silently.
type hostDeps struct{}

type corpusEntry = struct {
	Parent     string
	Path       string
	Data       []byte
	Values     []any
	Generation int
	IsSeed     bool
}

var errHost = errors.New("not available in the simulation host")

func (hostDeps) ImportPath() string                          { return "gauntlet/sim" }
func (hostDeps) ModulePath() string                          { return "" }
func (hostDeps) MatchString(pat, str string) (bool, error)   { return true, nil }
func (hostDeps) SetPanicOnExit0(bool)                        {}
func (hostDeps) StartCPUProfile(io.Writer) error             { return errHost }
func (hostDeps) StopCPUProfile()                             {}
func (hostDeps) StartTestLog(io.Writer)                      {}
func (hostDeps) StopTestLog() error                          { return nil }
func (hostDeps) WriteProfileTo(string, io.Writer, int) error { return errHost }
func (hostDeps) CoordinateFuzzing(time.Duration, int64, time.Duration, int64, int, []corpusEntry, []reflect.Type, string, string) error {
	return errHost
}
func (hostDeps) RunFuzzWorker(func(corpusEntry) error) error              { return errHost }
func (hostDeps) ReadCorpus(string, []reflect.Type) ([]corpusEntry, error) { return nil, errHost }
func (hostDeps) CheckCorpus([]any, []reflect.Type) error                  { return nil }
func (hostDeps) ResetCoverage()                                           {}
func (hostDeps) SnapshotCoverage()                                        {}
func (hostDeps) InitRuntimeCoverage() (string, func(string, string) (string, error), func() float64) {
	return "", nil, nil
}

// simGCPercent is the garbage collector's target while bubbles run, unless
// GOGC is set: a simulated cluster allocates fast and keeps little (a run's
// live heap is tens of MiB), so collecting a quarter as often trades about
// twice the memory for less of a run's CPU spent in the collector.
const simGCPercent = 400

var gcMu struct {
	sync.Mutex
	n    int // bubbles running
	prev int
}

// gcBoost raises the collector's target while any bubble runs; the returned
// func ends this bubble's share.
func gcBoost() func() {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	gcMu.Lock()
	if gcMu.n == 0 {
		gcMu.prev = debug.SetGCPercent(simGCPercent)
	}
	gcMu.n++
	gcMu.Unlock()
	return func() {
		gcMu.Lock()
		gcMu.n--
		if gcMu.n == 0 {
			debug.SetGCPercent(gcMu.prev)
		}
		gcMu.Unlock()
	}
}

// blockedStacks lists the goroutines a bubble left blocked, as the runtime
// marks them ("durable"), so a deadlock says what waited on what.
func blockedStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if head, _, _ := strings.Cut(g, "\n"); strings.Contains(head, "durable") || strings.Contains(head, "synctest") {
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		return ""
	}
	const most = 8
	more := ""
	if len(out) > most {
		more = fmt.Sprintf("\n(and %d more)", len(out)-most)
		out = out[:most]
	}
	return "\ngoroutines left blocked:\n" + strings.Join(out, "\n\n") + more
}
