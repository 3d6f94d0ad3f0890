package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// fakeRun judges a test by rule: any bug is caught on even seeds at
// 3 s + seed, and only if the time limit reaches past that; the correct store
// is valid. It writes a results.json where the runner would.
func fakeRun(calls *int64) RunFunc {
	return func(ctx context.Context, t harness.Test) (*harness.Results, error) {
		atomic.AddInt64(calls, 1)
		res := &harness.Results{Test: t, Verdict: harness.Valid, TestTime: t.TimeLimit}
		if t.Bug != "" && t.Seed%2 == 0 {
			fv := (3 + t.Seed) * int64(time.Second)
			if t.TimeLimit.D() >= time.Duration(fv) && len(t.Nemesis) > 0 && t.Nemesis[0] == "partition" {
				res.Verdict = harness.Invalid
				res.FirstViolation = &fv
				res.Checkers = []harness.Result{{Checker: "linearizable", Validity: harness.Invalid,
					Anomalies: []harness.Anomaly{{Explanation: "read of k1 returned 1"}}}}
			}
		}
		dir := filepath.Join(t.Out, t.Name, "20260101T000000")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(res)
		return res, os.WriteFile(filepath.Join(dir, harness.ResultsFile), b, 0o644)
	}
}

func baseTest() harness.Test {
	return harness.Test{System: "raft", Deploy: "local", Workload: "kv", Nodes: 3, Concurrency: 8, TimeLimit: harness.Duration(20 * time.Second)}
}

func TestLoadSpecAndExpand(t *testing.T) {
	p := filepath.Join(t.TempDir(), "smoke.yaml")
	require.NoError(t, os.WriteFile(p, []byte("systems: [raft, quorum]\nnemesis: [\"partition,kill\", none]\nbugs: [none, stale-read]\nseeds: 2\nbase_seed: 10\ntime_limit: 5s\n"), 0o644))
	s, err := LoadSpec(p)
	require.NoError(t, err)
	assert.Equal(t, "smoke", s.Name)
	runs := s.Runs()
	assert.Len(t, runs, 2*2*2*2)
	assert.Equal(t, int64(10), runs[0].Seed)
	assert.Equal(t, int64(11), runs[len(runs)-1].Seed)
	tst := s.Test(runs[0], baseTest(), "/tmp/x")
	assert.Equal(t, []string{"partition", "kill"}, tst.Nemesis)
	assert.Equal(t, 5*time.Second, tst.TimeLimit.D())

	require.NoError(t, os.WriteFile(p, []byte("sytems: [raft]\n"), 0o644))
	_, err = LoadSpec(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sytems")

	q := Spec{Systems: []string{"raft", "quorum"}, Bugs: []string{"none", "raft:stale-read", "quorum:r1w1"}}
	var cells []string
	for _, r := range q.Runs() {
		cells = append(cells, r.Cell.Key())
	}
	assert.Equal(t, []string{"raft/local/kv/none/none", "raft/local/kv/none/stale-read",
		"quorum/local/kv/none/none", "quorum/local/kv/none/r1w1"}, cells)
}

func TestExecuteSummaryJUnitResume(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Name: "smoke", Nemesis: []string{"partition"}, Bugs: []string{"none", "stale-read"}, Seeds: 4}
	var calls int64
	junit := filepath.Join(dir, "junit.xml")
	sum, err := Execute(context.Background(), spec, Options{Dir: dir, Parallel: 2, Template: baseTest(), Run: fakeRun(&calls), JUnit: junit})
	require.NoError(t, err)
	assert.Equal(t, int64(8), calls)
	require.Len(t, sum.Cells, 2)
	assert.True(t, sum.Pass)
	bug := sum.Cells[1]
	assert.Equal(t, "stale-read", bug.Cell.Bug)
	assert.Equal(t, 2, bug.Invalid)
	require.NotNil(t, bug.MedianDetect)
	assert.InDelta(t, 4.0, *bug.MedianDetect, 0.01) // seeds 0 and 2: 3 s and 5 s
	assert.NotEmpty(t, bug.Records[0].Dir)
	for _, f := range []string{"summary.json", "summary.html", StateFile} {
		assert.FileExists(t, filepath.Join(dir, f))
	}
	x, err := os.ReadFile(junit)
	require.NoError(t, err)
	assert.Contains(t, string(x), `failures="0"`)
	// Each anomaly is in the page, in words, not only in a link's tooltip.
	html, err := os.ReadFile(filepath.Join(dir, "summary.html"))
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(html), "<li>seed "), "the two invalid runs, one line each")
	assert.Contains(t, string(html), "<li>seed 0, invalid: linearizable: read of k1 returned 1")

	// Same directory again: everything is finished, nothing runs.
	_, err = Execute(context.Background(), spec, Options{Dir: dir, Parallel: 2, Template: baseTest(), Run: fakeRun(&calls)})
	require.NoError(t, err)
	assert.Equal(t, int64(8), calls)
}

func TestInterruptThenResume(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Name: "c", Nemesis: []string{"partition"}, Bugs: []string{"none"}, Seeds: 6}
	ctx, cancel := context.WithCancel(context.Background())
	var calls int64
	inner := fakeRun(&calls)
	var once sync.Once
	run := func(ctx2 context.Context, tst harness.Test) (*harness.Results, error) {
		if tst.Seed == 2 {
			once.Do(cancel) // Ctrl-C arrives during the third run
			return &harness.Results{Interrupted: true}, nil
		}
		return inner(ctx2, tst)
	}
	sum, err := Execute(ctx, spec, Options{Dir: dir, Parallel: 1, Template: baseTest(), Run: run})
	require.NoError(t, err)
	assert.Equal(t, 2, sum.Runs)
	assert.Equal(t, 4, sum.NotStarted)

	sum, err = Execute(context.Background(), spec, Options{Dir: dir, Parallel: 1, Template: baseTest(), Run: fakeRun(&calls)})
	require.NoError(t, err)
	assert.Equal(t, 6, sum.Runs)
	assert.Equal(t, int64(6), calls) // 2 before, 4 after: nothing ran twice
}

func TestBudgetStopsStartingRuns(t *testing.T) {
	spec := Spec{Name: "b", Seeds: 5}
	slow := func(ctx context.Context, tst harness.Test) (*harness.Results, error) {
		time.Sleep(30 * time.Millisecond)
		return &harness.Results{Verdict: harness.Valid}, nil
	}
	dir := t.TempDir()
	sum, err := Execute(context.Background(), spec, Options{Dir: dir, Parallel: 1, Budget: 40 * time.Millisecond, Template: baseTest(), Run: slow})
	require.NoError(t, err)
	assert.Less(t, sum.Runs, 5)
	assert.Equal(t, 5-sum.Runs, sum.NotStarted)
	assert.Equal(t, "INCOMPLETE", sum.Word(), "no failure, but not everything ran")
	html, err := os.ReadFile(filepath.Join(dir, "summary.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), ">INCOMPLETE<")
}

// Runs that all fail with one error before any run worked (kvnode cannot
// be built) stop the campaign from starting the rest; a campaign where some
// run worked keeps going whatever fails later.
func TestSameErrorEveryRunStopsStarting(t *testing.T) {
	spec := Spec{Name: "h", Seeds: 8}
	var calls atomic.Int64
	broken := func(ctx context.Context, tst harness.Test) (*harness.Results, error) {
		calls.Add(1)
		return &harness.Results{Error: "setup: kvnode: no go.mod"}, nil
	}
	sum, err := Execute(context.Background(), spec, Options{Dir: t.TempDir(), Parallel: 1, Template: baseTest(), Run: broken})
	require.NoError(t, err)
	assert.EqualValues(t, hopelessAfter, calls.Load())
	assert.Equal(t, 8-hopelessAfter, sum.NotStarted)
	assert.False(t, sum.Pass)

	calls.Store(0)
	worksOnce := func(ctx context.Context, tst harness.Test) (*harness.Results, error) {
		if calls.Add(1) == 1 {
			return &harness.Results{Verdict: harness.Valid}, nil
		}
		return &harness.Results{Error: "setup: docker: daemon gone"}, nil
	}
	sum, err = Execute(context.Background(), spec, Options{Dir: t.TempDir(), Parallel: 1, Template: baseTest(), Run: worksOnce})
	require.NoError(t, err)
	assert.EqualValues(t, 8, calls.Load())
	assert.Zero(t, sum.NotStarted)
}

func TestDetectStopsEarlyAndFlagsMisses(t *testing.T) {
	var calls int64
	o := DetectOptions{
		Systems: []DetectSystem{{Name: "raft", Deploy: "local", Control: "kv", Nemeses: []string{"partition", "kill"},
			Bugs: []harness.Bug{
				{Name: "stale-read", Workload: "kv", Nemesis: []string{"partition"}},
				{Name: "never", Workload: "kv", Nemesis: []string{"kill"}}, // fakeRun catches only under partition
				{Name: "deep", Workload: "kv", Nemesis: []string{"kill"}, Reach: harness.ReachSimulation},
			}}},
		Seeds: 6, CatchEnough: 2, Schedules: []string{ScheduleRandom}, SimBlackBox: true,
		Options: Options{Dir: t.TempDir(), Parallel: 1, Template: baseTest(), Run: fakeRun(&calls)},
	}
	o.Systems[0].Simulate = func(bug string, seed int64) error {
		if bug == "deep" && seed == 3 {
			return errors.New("vote safety: n3 voted twice in term 7")
		}
		return nil
	}
	sum, sims, err := Detect(context.Background(), o)
	require.NoError(t, err)
	assert.False(t, sum.Pass)
	require.Len(t, sims, 1, "only simulation-reach bugs are simulated")
	assert.Equal(t, SimResult{System: "raft", Bug: "deep", Tried: 3, Seed: 3, Found: "vote safety: n3 voted twice in term 7", Wall: sims[0].Wall}, sims[0])
	assert.FileExists(t, filepath.Join(o.Options.Dir, "simulation.json"))
	var stale, never *CellSummary
	for i := range sum.Cells {
		switch sum.Cells[i].Cell.Bug {
		case "stale-read":
			stale = &sum.Cells[i]
		case "never":
			never = &sum.Cells[i]
		}
	}
	require.NotNil(t, stale)
	assert.Equal(t, 2, stale.Invalid)
	assert.Equal(t, 3, stale.Runs) // seeds 0,1,2: stopped once caught twice
	assert.Equal(t, 6, never.Runs)
	assert.False(t, never.Pass)
	for _, c := range sum.Cells {
		if c.Cell.Bug == "deep" {
			assert.True(t, c.Pass, "missed black-box but caught by the simulation")
			assert.Equal(t, 6, c.Runs, "still tried black-box with every seed")
			assert.Contains(t, c.Reason, "caught it at seed 3")
		}
	}
	var b strings.Builder
	require.NoError(t, WriteDetectTable(&b, sum, sims))
	assert.Contains(t, b.String(), "MISSED")
	assert.Contains(t, b.String(), "2/3")
	assert.Contains(t, b.String(), "simulation only")
	assert.Contains(t, b.String(), "vote safety")
}

// A simulation-reach bug that the simulation does not catch either fails
// the benchmark, like any missed bug.
func TestDetectSimulationMissIsAMiss(t *testing.T) {
	var calls int64
	o := DetectOptions{
		Systems: []DetectSystem{{Name: "raft", Deploy: "local", Control: "kv", Nemeses: []string{"partition"},
			Bugs:     []harness.Bug{{Name: "deep", Workload: "kv", Nemesis: []string{"kill"}, Reach: harness.ReachSimulation}},
			Simulate: func(string, int64) error { return nil }}},
		Seeds: 2, SimSeeds: 5,
		Options: Options{Dir: t.TempDir(), Parallel: 1, Template: baseTest(), Run: fakeRun(&calls)},
	}
	sum, sims, err := Detect(context.Background(), o)
	require.NoError(t, err)
	assert.False(t, sum.Pass)
	require.Len(t, sims, 1)
	assert.Equal(t, 5, sims[0].Tried)
	assert.False(t, sims[0].Caught())
	deep := sum.Cells[slices.IndexFunc(sum.Cells, func(c CellSummary) bool { return c.Cell.Bug == "deep" })]
	assert.Zero(t, deep.Runs, "not run black-box by default")
	assert.False(t, deep.Pass)
	assert.Contains(t, deep.Reason, "not caught by the simulation in 5 seeds")
	// The same catalog with a simulation that catches it passes.
	o.Systems[0].Simulate = func(string, int64) error { return errors.New("found") }
	o.Options.Dir = t.TempDir()
	sum, sims, err = Detect(context.Background(), o)
	require.NoError(t, err)
	assert.True(t, sum.Pass)
	var b strings.Builder
	require.NoError(t, WriteDetectTable(&b, sum, sims))
	assert.NotContains(t, b.String(), "0/0", "a bug judged by the simulation alone is in its table only")
	assert.Regexp(t, `deep\s+raft\s+1\s+1`, b.String())
}

func TestShrink(t *testing.T) {
	var calls int64
	orig := baseTest()
	orig.Bug, orig.Seed, orig.Out = "stale-read", 4, t.TempDir()
	orig.Nemesis = []string{"kill", "partition", "pause"}
	orig.TimeLimit = harness.Duration(60 * time.Second)
	fv := int64(7 * time.Second)
	best, tries, err := Shrink(context.Background(), orig, &fv, ShrinkOptions{Run: fakeRun(&calls)})
	require.NoError(t, err)
	assert.Equal(t, []string{"partition"}, best.Nemesis)
	assert.Equal(t, 8*time.Second, best.TimeLimit.D())
	assert.Equal(t, 2, best.Concurrency)
	assert.Less(t, best.TimeLimit.D(), orig.TimeLimit.D())
	assert.NotEmpty(t, tries)
	assert.Contains(t, best.CommandLine(), "--time-limit 8s")
}

func TestOptionsDimension(t *testing.T) {
	p := filepath.Join(t.TempDir(), "versions.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`systems: [etcd]
nemesis: [pause]
seed_list: [7, 8]
op_timeout: 4s
read_fraction: 0.8
options:
  - {etcd-version: v3.6.8, etcd-election-ms: 250}
  - {etcd-version: v3.6.9, etcd-election-ms: 250}
`), 0o644))
	s, err := LoadSpec(p)
	require.NoError(t, err)
	runs := s.Runs()
	require.Len(t, runs, 2*2)
	var keys []string
	for _, r := range runs {
		keys = append(keys, r.Key())
	}
	// Seeds outermost: both versions run seed 7 before either runs seed 8.
	assert.Equal(t, []string{
		"etcd/local/kv/pause/none/etcd-election-ms=250,etcd-version=v3.6.8/seed-7",
		"etcd/local/kv/pause/none/etcd-election-ms=250,etcd-version=v3.6.9/seed-7",
		"etcd/local/kv/pause/none/etcd-election-ms=250,etcd-version=v3.6.8/seed-8",
		"etcd/local/kv/pause/none/etcd-election-ms=250,etcd-version=v3.6.9/seed-8",
	}, keys)

	tmpl := baseTest()
	tmpl.Options = map[string]string{"etcd-heartbeat-ms": "25", "etcd-version": "v3.5.2"}
	tst := s.Test(runs[1], tmpl, "/tmp/x")
	assert.Equal(t, map[string]string{"etcd-version": "v3.6.9", "etcd-election-ms": "250", "etcd-heartbeat-ms": "25"}, tst.Options,
		"the cell's options override the template's")
	assert.Equal(t, 4*time.Second, tst.OpTimeout.D())
	assert.InDelta(t, 0.8, tst.ReadFraction, 1e-9)
	assert.Contains(t, tst.CommandLine(), "--etcd-version=v3.6.9")
	assert.Contains(t, tst.CommandLine(), "--read-fraction 0.8")
	assert.Equal(t, "v3.5.2", tmpl.Options["etcd-version"], "the template's map is not written to")
	tst.Options["etcd-version"] = "changed"
	assert.Equal(t, "v3.6.9", runs[1].Cell.Options["etcd-version"], "each test has its own map")

	// No options: cells and keys as before.
	plain := Spec{Systems: []string{"raft"}}
	assert.Equal(t, "raft/local/kv/none/none", plain.Runs()[0].Cell.Key())
	assert.Nil(t, plain.Test(plain.Runs()[0], baseTest(), "/tmp/x").Options)

	// The summary shows each options cell apart.
	dir := t.TempDir()
	var calls int64
	sum, err := Execute(context.Background(), s, Options{Dir: dir, Template: baseTest(), Run: fakeRun(&calls)})
	require.NoError(t, err)
	require.Len(t, sum.Cells, 2)
	assert.Equal(t, "etcd-election-ms=250,etcd-version=v3.6.8", sum.Cells[0].Cell.OptionsString())
	assert.Equal(t, 2, sum.Cells[1].Runs)
	html, err := os.ReadFile(filepath.Join(dir, "summary.html"))
	require.NoError(t, err)
	assert.Contains(t, string(html), "etcd-election-ms=250,etcd-version=v3.6.9")

	for _, bad := range []string{
		"options:\n  - {--etcd-version: v3.6.8}\n",
		"options:\n  - {etcd-version: v3.6.8}\n  - {etcd-version: v3.6.8}\n",
		"op_timeout: soon\n",
	} {
		require.NoError(t, os.WriteFile(p, []byte(bad), 0o644))
		_, err := LoadSpec(p)
		assert.Error(t, err, bad)
	}
}
