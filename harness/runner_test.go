package harness

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testParts(t *testing.T) (Test, Parts, *memSystem, *memDeployment, *countChecker) {
	t.Helper()
	sys := newMemSystem()
	sys.store.delay = 200 * time.Microsecond // a few thousand ops, not millions
	dep := &memDeployment{}
	cc := &countChecker{}
	tst := Test{
		System: "mem", Deploy: "mem", Workload: "kv", Nemesis: []string{"partition", "kill"},
		NemesisInterval: Duration(100 * time.Millisecond), Nodes: 3, Concurrency: 4,
		TimeLimit: Duration(600 * time.Millisecond), RecoveryLimit: Duration(time.Second),
		Seed: 7, Out: t.TempDir(),
	}
	p := Parts{System: sys, Deployment: dep, Workload: kvWorkload{keys: 5, checkers: []Checker{cc}},
		Nemeses: []Nemesis{partitionNemesis{}, killNemesis{}}}
	return tst, p, sys, dep, cc
}

// longLimit is a time limit a test never waits out: the run ends by a
// condition (a hook, a finding, a cancellation) and the test asserts that it
// did, so a loaded machine makes the test slower, never red.
const longLimit = 10 * time.Minute

// phaseTook is how long the run's phase of that name took.
func phaseTook(t *testing.T, res *Results, name string) time.Duration {
	t.Helper()
	for _, ph := range res.Phases {
		if ph.Name == name {
			return ph.Duration.D()
		}
	}
	require.Failf(t, "no such phase", "%s in %+v", name, res.Phases)
	return 0
}

func runDir(t *testing.T, out string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(out, "latest"))
	require.NoError(t, err)
	return filepath.Join(out, target)
}

func TestRunWritesAUsableRun(t *testing.T) {
	tst, p, sys, dep, cc := testParts(t)
	var phases []string
	p.Progress = func(pr Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
			phases = append(phases, pr.Phase)
		}
	}
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.Equal(t, Valid, res.Verdict, "%+v", res.Checkers)
	assert.Equal(t, ExitValid, res.ExitCode())
	assert.EqualValues(t, 1, dep.cluster.closes.Load(), "closed once")
	assert.EqualValues(t, 1, dep.cluster.collects.Load())
	assert.EqualValues(t, 1, cc.called.Load())
	assert.Positive(t, sys.digests.Load())
	assert.Equal(t, []string{PhaseSetup, PhaseHealthy, PhaseSystem, PhaseMain, PhaseHeal, PhaseRecovery, PhaseDigests, PhaseTeardown, PhaseCheck, PhaseDone}, phases)

	dir := runDir(t, tst.Out)
	assert.Equal(t, filepath.Join(tst.Out, "mem-kv-partition+kill-mem"), filepath.Dir(dir))
	for _, f := range []string{ConfigFile, HistoryFile, ResultsFile, DigestsFile} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	var cfg Test
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &cfg))
	assert.Equal(t, res.Test, cfg, "config.json holds the resolved test")

	h, err := ReadHistory(filepath.Join(dir, HistoryFile))
	require.NoError(t, err)
	require.NotEmpty(t, h)
	for i, op := range h {
		require.Equal(t, i, op.Index)
		if i > 0 {
			require.GreaterOrEqual(t, op.Time, h[i-1].Time, "times are monotonic")
		}
	}
	// Every process has at most one op outstanding.
	outstanding := map[Process]bool{}
	for _, op := range h.Client() {
		if op.Type == Invoke {
			require.False(t, outstanding[op.Process], "process %d invoked twice: %v", op.Process, op)
			outstanding[op.Process] = true
		} else {
			require.True(t, outstanding[op.Process], "completion without invoke: %v", op)
			delete(outstanding, op.Process)
		}
	}
	assert.Empty(t, outstanding)
	assert.Equal(t, res.Ops, len(h.Client())/2)

	// Faults were scheduled, recorded as invoke+ok pairs, and healed at the end.
	nem := h.NemesisOps()
	require.NotEmpty(t, nem)
	starts := 0
	for i := 0; i < len(nem); i += 2 {
		require.Equal(t, Invoke, nem[i].Type)
		require.Equal(t, OK, nem[i+1].Type, "%v", nem[i+1])
		require.Equal(t, nem[i].F, nem[i+1].F)
		require.NotNil(t, nem[i].Fault, "typed in the history: %v", nem[i])
		require.Equal(t, nem[i].Fault, nem[i+1].Fault)
		require.Equal(t, strings.HasPrefix(nem[i].F, "stop-"), nem[i].Fault.Stop)
		if strings.HasPrefix(nem[i].F, "start-") {
			starts++
			require.NotNil(t, nem[i+1].Value)
			require.NotEmpty(t, nem[i+1].Node)
		}
	}
	assert.GreaterOrEqual(t, starts, 2)
	assert.True(t, strings.HasPrefix(nem[len(nem)-1].F, "stop-"), "the last fault op is a heal")

	// Recovery read every key the generator used, after the main phase.
	mainEnd := res.TestTime.D()
	final := map[string]bool{}
	for _, op := range h.Client() {
		if op.Type == OK && op.F == FRead && time.Duration(op.Time) >= mainEnd {
			final[op.Key] = true
		}
	}
	assert.Len(t, final, 5)
	var rec *Result
	for i := range res.Checkers {
		if res.Checkers[i].Checker == RecoveryChecker {
			rec = &res.Checkers[i]
		}
	}
	require.NotNil(t, rec)
	assert.Equal(t, Valid, rec.Validity)
}

func TestRunInfoRetiresTheProcess(t *testing.T) {
	tst, p, sys, _, _ := testParts(t)
	sys.store.infoEvery = 3
	tst.Nemesis, p.Nemeses = nil, nil
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	h, err := ReadHistory(filepath.Join(runDir(t, tst.Out), HistoryFile))
	require.NoError(t, err)
	afterInfo := map[Process]bool{}
	infos := 0
	for _, op := range h.Client() {
		require.False(t, afterInfo[op.Process], "process %d used after info", op.Process)
		if op.Type == Info {
			afterInfo[op.Process] = true
			infos++
			require.Equal(t, FWrite, op.F)
			require.NotNil(t, op.Value, "an info write keeps its value")
		}
	}
	assert.Positive(t, infos)
	assert.Equal(t, Valid, res.Verdict)
}

func TestRunNeverRecoveringIsAFinding(t *testing.T) {
	tst, p, sys, _, _ := testParts(t)
	tst.RecoveryLimit = Duration(300 * time.Millisecond)
	p.Watch = func(op Op) bool {
		if op.F == "stop-partition" || op.F == "stop-kill" {
			if op.Type == OK && time.Duration(op.Time) > tst.TimeLimit.D() {
				sys.store.failReads.Store(true) // breaks when the heal phase runs
			}
		}
		return false
	}
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	if !sys.store.failReads.Load() {
		t.Skip("no fault was active at the end of the main phase")
	}
	assert.Equal(t, Invalid, res.Verdict)
	a := res.FirstAnomaly()
	require.NotNil(t, a)
	assert.Contains(t, a.Explanation, "did not serve a read")
	assert.NotNil(t, res.FirstViolation)
}

func TestRunUnsupportedFaultIsAConfigError(t *testing.T) {
	tst, p, _, dep, _ := testParts(t)
	dep.unsupported = FaultKill
	_, err := Run(context.Background(), tst, p)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), `nemesis "kill" needs kill`)
	assert.Nil(t, dep.cluster, "nothing was deployed")
	entries, _ := os.ReadDir(tst.Out)
	assert.Empty(t, entries, "no run directory for a run that never started")
}

func TestRunDeployFailureTearsDown(t *testing.T) {
	tst, p, _, dep, _ := testParts(t)
	dep.err = os.ErrPermission
	res, err := Run(context.Background(), tst, p)
	require.Error(t, err)
	require.NotNil(t, res)
	assert.Contains(t, res.Error, "deploy")
	assert.Equal(t, ExitRunFail, res.ExitCode())
	assert.NotEqual(t, Valid, res.Verdict)
	assert.EqualValues(t, 1, dep.cluster.closes.Load(), "a half-made cluster is closed")
}

func TestRunPanicTearsDown(t *testing.T) {
	tst, p, _, dep, _ := testParts(t)
	p.Workload = kvWorkload{keys: 2, panicGen: true, checkers: []Checker{&countChecker{}}}
	res, err := Run(context.Background(), tst, p)
	require.Error(t, err)
	assert.Contains(t, res.Error, "generator exploded")
	assert.EqualValues(t, 1, dep.cluster.closes.Load())
	assert.Equal(t, ExitRunFail, res.ExitCode())
}

func TestRunClientPanicIsInfo(t *testing.T) {
	tst, p, sys, dep, _ := testParts(t)
	sys.panicClients = true
	tst.TimeLimit = Duration(100 * time.Millisecond)
	tst.RecoveryLimit = Duration(100 * time.Millisecond)
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.EqualValues(t, 1, dep.cluster.closes.Load())
	h, err := ReadHistory(filepath.Join(runDir(t, tst.Out), HistoryFile))
	require.NoError(t, err)
	for _, op := range h.Client() {
		if op.Type != Invoke {
			require.Equal(t, Info, op.Type)
			require.Contains(t, op.Error, "client panic")
		}
	}
	assert.NotEqual(t, Valid, res.Verdict)
}

func TestRunCancelKeepsHistoryAndTearsDown(t *testing.T) {
	tst, p, _, dep, cc := testParts(t)
	tst.TimeLimit = Duration(longLimit)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	res, err := Run(ctx, tst, p)
	require.NoError(t, err)
	assert.Less(t, res.TestTime.D(), longLimit, "the cancellation ended the main phase")
	assert.True(t, res.Interrupted)
	assert.Equal(t, Unknown, res.Verdict, "an interrupted run is never valid")
	assert.Equal(t, ExitInterrupted, res.ExitCode())
	assert.EqualValues(t, 1, dep.cluster.closes.Load())
	assert.EqualValues(t, 1, cc.called.Load(), "what was recorded is checked")
	h, err := ReadHistory(filepath.Join(runDir(t, tst.Out), HistoryFile))
	require.NoError(t, err)
	assert.NotEmpty(t, h)
}

func TestRunInterruptedInvalidStaysInvalid(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	p.Workload = kvWorkload{keys: 2, checkers: []Checker{invalidChecker{}}}
	tst.TimeLimit = Duration(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	res, err := Run(ctx, tst, p)
	require.NoError(t, err)
	assert.Equal(t, Invalid, res.Verdict)
	assert.Equal(t, ExitInvalid, res.ExitCode())
	require.NotNil(t, res.FirstViolation)
	assert.EqualValues(t, 42, *res.FirstViolation)
}

func TestRunWatchStopsEarly(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	tst.TimeLimit = Duration(longLimit)
	p.Watch = func(op Op) bool { return op.Index > 100 }
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.False(t, res.Interrupted)
	assert.Less(t, res.TestTime.D(), longLimit, "the hook ended the main phase")
}

func TestCheckTimeoutIsUnknown(t *testing.T) {
	res := Check(context.Background(), []Checker{slowChecker{d: time.Minute}}, CheckInput{}, 10*time.Millisecond, nil)
	require.Len(t, res, 1)
	assert.Equal(t, Unknown, res[0].Validity)
	assert.Contains(t, res[0].Summary, "check timeout")
}

func TestRunRateLimits(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	tst.Nemesis, p.Nemeses = nil, nil
	tst.Rate = 200
	tst.TimeLimit = Duration(time.Second)
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	main := float64(res.Ops - 5) // minus the recovery reads
	limit := 200 * res.TestTime.D().Seconds()
	assert.LessOrEqual(t, main, limit+5, "the rate is a limit")
	assert.GreaterOrEqual(t, main, limit/2, "and is roughly reached (timers run late on a loaded machine)")
}

// The same seed gives the same op mix and the same fault schedule.
func TestRunSeedReplays(t *testing.T) {
	record := func(seed int64) (ops, faults []string) {
		tst, p, _, _, _ := testParts(t)
		tst.Seed = seed
		tst.Concurrency = 1
		tst.Out = t.TempDir()
		// Enough of both to compare, however slowly a loaded machine runs.
		tst.TimeLimit = Duration(longLimit)
		var invokes, started int
		p.Watch = func(op Op) bool {
			switch {
			case op.IsNemesis() && op.Type == OK:
				started++
			case op.Type == Invoke:
				invokes++
			}
			return started >= 6 && invokes >= 200
		}
		res, err := Run(context.Background(), tst, p)
		require.NoError(t, err)
		require.Less(t, res.TestTime.D(), longLimit, "ended by the condition, not the limit")
		h, err := ReadHistory(filepath.Join(runDir(t, tst.Out), HistoryFile))
		require.NoError(t, err)
		for _, op := range h {
			switch {
			case op.IsNemesis() && op.Type == OK:
				faults = append(faults, op.F+" "+op.Node)
			case !op.IsNemesis() && op.Type == Invoke && op.Time < int64(res.TestTime):
				// Main-phase ops only: how many fit in the time limit
				// depends on the machine's load, and the recovery reads
				// follow them.
				ops = append(ops, op.F+" "+op.Key)
			}
		}
		return ops, faults
	}
	ops1, faults1 := record(11)
	ops2, faults2 := record(11)
	ops3, faults3 := record(12)
	n := min(len(ops1), len(ops2), 200)
	assert.Equal(t, ops1[:n], ops2[:n])
	m := min(len(faults1), len(faults2))
	require.GreaterOrEqual(t, m, 3)
	assert.Equal(t, faults1[:m], faults2[:m])
	assert.NotEqual(t, ops1[:min(n, len(ops3))], ops3[:min(n, len(ops3))], "another seed, another mix")
	_ = faults3
}

func TestRunDirsDoNotCollide(t *testing.T) {
	out := t.TempDir()
	start := time.Now()
	var dirs []string
	for range 3 {
		d, err := NewRunDir(out, "x", start)
		require.NoError(t, err)
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	assert.Len(t, dirs, 3)
	assert.NotEqual(t, dirs[0], dirs[1])
}

func TestValidate(t *testing.T) {
	tst := Test{Concurrency: -1, TimeLimit: Duration(-time.Second)}.WithDefaults()
	err := tst.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "concurrency")
	assert.Contains(t, err.Error(), "time-limit")
	assert.NoError(t, Test{}.WithDefaults().Validate())
}

func TestRunStopOnViolation(t *testing.T) {
	tst, p, _, _, _ := testParts(t)
	tst.StopOnViolation = true
	p.Workload = kvWorkload{keys: 2, checkers: []Checker{invalidChecker{}}}
	tst.TimeLimit = Duration(longLimit)
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.Less(t, res.TestTime.D(), longLimit, "the finding ended the main phase")
	assert.Equal(t, Invalid, res.Verdict)
	assert.False(t, res.Interrupted)
}

// Digests that never agree are sampled until the recovery limit; what is
// kept is the last whole sample (the divergence), not one cut short by the
// limit that would show only deadline errors.
func TestDivergentDigestsKeepLastWholeSample(t *testing.T) {
	tst, p, sys, _, cc := testParts(t)
	sys.diverge = true
	p.Workload = kvWorkload{keys: 5, checkers: []Checker{cc, agreeChecker{}}}
	tst.RecoveryLimit = Duration(600 * time.Millisecond)
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	require.Len(t, res.Digests, tst.Nodes)
	seen := map[string]bool{}
	for _, d := range res.Digests {
		assert.Empty(t, d.Error, "node %s", d.Node)
		seen[d.Digest] = true
	}
	assert.Len(t, seen, tst.Nodes, "each node's own digest: %+v", res.Digests)
}

// Nodes of one leader's log that applied as much but hold different states
// have diverged for good: once the samples stop changing, the runner does
// not wait out the recovery limit. Nodes at different applied indexes may
// still catch up, and a leaderless store's applied count says nothing of
// equality, so those are waited for.
func TestDigestsSettledApartEndTheWait(t *testing.T) {
	tst, p, sys, _, cc := testParts(t)
	p.Workload = kvWorkload{keys: 5, checkers: []Checker{cc, agreeChecker{}}}
	sys.diverge, sys.applied, sys.leader = true, 42, "n1"
	tst.RecoveryLimit = Duration(longLimit)
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.Less(t, phaseTook(t, res, PhaseDigests), longLimit, "not the recovery limit")
	require.Len(t, res.Digests, tst.Nodes)
	assert.NotEqual(t, res.Digests[0].Digest, res.Digests[1].Digest)

	tst, p, sys, _, cc = testParts(t)
	p.Workload = kvWorkload{keys: 5, checkers: []Checker{cc, agreeChecker{}}}
	sys.diverge, sys.applied = true, 42 // no leader
	tst.RecoveryLimit = Duration(3 * time.Second)
	t0 := time.Now()
	_, err = Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(t0), tst.RecoveryLimit.D(), "a leaderless store is given the whole limit")

	assert.True(t, settledApart([]Digest{{Node: "a", Digest: "x", Applied: 5}, {Node: "b", Digest: "y", Applied: 5}}))
	assert.False(t, settledApart([]Digest{{Node: "a", Digest: "x", Applied: 5}, {Node: "b", Digest: "y", Applied: 6}}), "b may be ahead")
	assert.False(t, settledApart([]Digest{{Node: "a", Digest: "x"}, {Node: "b", Digest: "y"}}), "no applied index: unknown")
	assert.False(t, settledApart([]Digest{{Node: "a", Digest: "x", Applied: 5}, {Node: "b", Digest: "y", Applied: 5, Error: "timeout"}}))
}

// Convergence is decided by the workload's checker (its Converged); with
// none, the runner takes one sample and does not wait.
func TestWithoutAJudgeDigestsAreSampledOnce(t *testing.T) {
	tst, p, sys, _, _ := testParts(t)
	sys.diverge = true
	tst.RecoveryLimit = Duration(longLimit)
	res, err := Run(context.Background(), tst, p)
	require.NoError(t, err)
	assert.Len(t, res.Digests, tst.Nodes)
	assert.EqualValues(t, tst.Nodes, sys.digests.Load(), "one sample")
	assert.Less(t, phaseTook(t, res, PhaseDigests), longLimit)
}
