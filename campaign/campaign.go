package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Options control a campaign's execution.
type Options struct {
	// Dir is the campaign directory. If it holds a state.json of the same
	// campaign, finished runs are skipped (resume).
	Dir      string
	Parallel int           // runs at once (≥1)
	Budget   time.Duration // stop starting runs after this long (0 = none)
	Template harness.Test  // defaults for every run
	Run      RunFunc
	JUnit    string                  // write JUnit XML here if set
	Logf     func(string, ...any)    // progress lines; nil = quiet
	Stop     func(Run, *Record) bool // optional: skip remaining runs of a cell (e.g. caught enough)
	// Judge, optional, may revise the summary's verdicts before it is written
	// (the detection benchmark judges simulation-reach bugs by the simulation).
	Judge func(*Summary)
	// Shard, if set, runs only that share of the matrix (see Shard).
	Shard Shard
}

// Record is the outcome of one finished run.
type Record struct {
	Run            Run              `json:"run"`
	Verdict        harness.Validity `json:"verdict"` // "" when the run could not be carried out
	Dir            string           `json:"dir,omitempty"`
	FirstViolation *int64           `json:"first_violation,omitempty"` // ns of test time
	TestTime       harness.Duration `json:"test_time"`
	Wall           harness.Duration `json:"wall"`
	Error          string           `json:"error,omitempty"`
	Anomaly        string           `json:"anomaly,omitempty"`
	Finished       time.Time        `json:"finished"`
}

// State is state.json: enough to resume and to summarize.
type State struct {
	Spec    Spec               `json:"spec"`
	Runs    []Run              `json:"runs"`            // every run planned, in order
	Shard   string             `json:"shard,omitempty"` // "I/N" when this folder is one shard
	Start   time.Time          `json:"start"`
	Records map[string]*Record `json:"records"`
}

// StateFile is the campaign's resumable state inside its directory.
const StateFile = "state.json"

// Execute runs the campaign and writes its summary. It returns the summary
// even when ctx is cancelled (runs under way finish their teardown first).
func Execute(ctx context.Context, spec Spec, o Options) (*Summary, error) {
	return ExecuteRuns(ctx, spec, o.Shard.Select(spec.Runs()), o)
}

// ExecuteRuns is Execute over an explicit list of runs (the detection
// benchmark's runs are not a full matrix). spec supplies the name and the
// overrides of every run's test.
func ExecuteRuns(ctx context.Context, spec Spec, runs []Run, o Options) (*Summary, error) {
	if o.Run == nil {
		return nil, errors.New("campaign: no RunFunc")
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	st, err := openState(spec, runs, o)
	if err != nil {
		return nil, err
	}
	x := &executor{spec: spec, o: o, st: st, start: time.Now(), stopped: map[string]bool{}}
	for _, rec := range st.Records {
		x.anyRan = x.anyRan || rec.Error == ""
	}
	if err := x.save(); err != nil {
		return nil, fmt.Errorf("campaign state: %w", err)
	}
	g := new(errgroup.Group)
	g.SetLimit(o.Parallel)
	skipped := 0
	for _, r := range runs {
		switch x.wanted(ctx, r) {
		case skipDone:
			continue
		case skipOver:
			skipped++
			continue
		}
		g.Go(func() error { return x.execute(ctx, r) })
	}
	werr := g.Wait()
	if skipped > 0 {
		o.Logf("budget, interrupt or a hopeless campaign: %d runs not started", skipped)
	}
	sum := Summarize(st, o.Dir)
	sum.NotStarted = countNotStarted(runs, st, x.stopped)
	if o.Judge != nil {
		o.Judge(sum)
	}
	if err := sum.Write(o.Dir); err != nil {
		return sum, err
	}
	if o.JUnit != "" {
		if err := sum.WriteJUnit(o.JUnit); err != nil {
			return sum, err
		}
	}
	return sum, werr
}

// openState resumes the campaign folder's state, or starts one.
func openState(spec Spec, runs []Run, o Options) (*State, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("campaign dir: %w", err)
	}
	st, err := loadState(o.Dir)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return &State{Spec: spec, Runs: runs, Shard: o.Shard.String(), Start: time.Now(), Records: map[string]*Record{}}, nil
	case st.Spec.Name != spec.Name:
		return nil, fmt.Errorf("campaign dir %s holds campaign %q, not %q", o.Dir, st.Spec.Name, spec.Name)
	case st.Shard != o.Shard.String():
		return nil, fmt.Errorf("campaign dir %s holds shard %q of %s, not shard %q", o.Dir, st.Shard, spec.Name, o.Shard.String())
	}
	o.Logf("resuming campaign %s: %d runs already finished", spec.Name, len(st.Records))
	return st, nil
}

// executor is one campaign's runs under way: the state they record into
// and what decides whether more start.
type executor struct {
	spec  Spec
	o     Options
	start time.Time

	mu      sync.Mutex
	st      *State
	stopped map[string]bool // cells whose Stop said enough
	// A campaign whose every run so far failed with one and the same error
	// (kvnode cannot be built, Docker is down) stops starting runs instead
	// of failing all of them the same way.
	hopeless string
	sameErr  int
	lastErr  string
	anyRan   bool
}

const (
	runNow   = iota
	skipDone // finished already, or its cell stopped
	skipOver // the budget, an interrupt or a hopeless campaign
)

// wanted says whether r is to start now.
func (x *executor) wanted(ctx context.Context, r Run) int {
	x.mu.Lock()
	_, done := x.st.Records[r.Key()]
	cellStopped := x.stopped[r.Cell.Key()]
	giveUp := x.hopeless != ""
	x.mu.Unlock()
	if done || cellStopped {
		return skipDone
	}
	if ctx.Err() != nil || giveUp || (x.o.Budget > 0 && time.Since(x.start) > x.o.Budget) {
		return skipOver
	}
	return runNow
}

func (x *executor) save() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return harness.WriteJSON(filepath.Join(x.o.Dir, StateFile), x.st)
}

// execute carries out one run and records it.
func (x *executor) execute(ctx context.Context, r Run) error {
	if x.wanted(ctx, r) != runNow {
		return nil
	}
	out := filepath.Join(x.o.Dir, "runs", filepath.FromSlash(r.Key()))
	t := x.spec.Test(r, x.o.Template, out)
	x.o.Logf("start %s", r.Key())
	began := time.Now()
	res, err := x.o.Run(ctx, t)
	// A run's history, checks and report are garbage now: give the memory
	// back, so that the campaign's resident memory is that of the runs under
	// way, not of the biggest run so far.
	debug.FreeOSMemory()
	if ctx.Err() != nil && (res == nil || res.Interrupted) {
		x.o.Logf("interrupted %s (will run again on resume)", r.Key())
		return nil
	}
	rec := recordOf(r, res, err, began)
	rec.Dir = findRunDir(out, x.o.Dir)
	x.note(r, rec)
	x.o.Logf("done  %s: %s%s", r.Key(), verdictWord(rec), fv(rec))
	return x.save()
}

// recordOf is what the campaign keeps of a run.
func recordOf(r Run, res *harness.Results, err error, began time.Time) *Record {
	rec := &Record{Run: r, Wall: harness.Duration(time.Since(began)), Finished: time.Now()}
	if err != nil {
		rec.Error = err.Error()
	}
	if res != nil {
		rec.Verdict = res.Verdict
		rec.FirstViolation = res.FirstViolation
		rec.TestTime = res.TestTime
		if res.Error != "" {
			rec.Error = res.Error
			rec.Verdict = ""
		}
		rec.Anomaly = firstAnomaly(res)
	}
	return rec
}

// note records rec and decides whether its cell, or the whole campaign,
// stops starting runs.
func (x *executor) note(r Run, rec *Record) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.st.Records[r.Key()] = rec
	if x.o.Stop != nil && x.o.Stop(r, rec) {
		x.stopped[r.Cell.Key()] = true
	}
	switch {
	case rec.Error == "":
		x.anyRan, x.sameErr = true, 0
	case rec.Error == x.lastErr:
		x.sameErr++
	default:
		x.lastErr, x.sameErr = rec.Error, 1
	}
	if !x.anyRan && x.sameErr >= hopelessAfter && x.hopeless == "" {
		x.hopeless = rec.Error
		x.o.Logf("every run so far could not run, with the same error; not starting the rest: %s", x.hopeless)
	}
}

// hopelessAfter is how many runs in a row must fail with one error, before
// any run worked, for a campaign to stop starting runs.
const hopelessAfter = 3

func countNotStarted(runs []Run, st *State, stopped map[string]bool) int {
	n := 0
	for _, r := range runs {
		if _, ok := st.Records[r.Key()]; !ok && !stopped[r.Cell.Key()] {
			n++
		}
	}
	return n
}

func loadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("campaign state %s is corrupt: %w", filepath.Join(dir, StateFile), err)
	}
	if st.Records == nil {
		st.Records = map[string]*Record{}
	}
	return &st, nil
}

// findRunDir locates the run directory (the one holding results.json)
// under out, relative to the campaign dir.
func findRunDir(out, base string) string {
	var found []string
	_ = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == harness.ResultsFile {
			found = append(found, filepath.Dir(p))
		}
		return nil
	})
	if len(found) == 0 {
		return ""
	}
	sort.Strings(found)
	rel, err := filepath.Rel(base, found[len(found)-1])
	if err != nil {
		return found[len(found)-1]
	}
	return rel
}

func firstAnomaly(r *harness.Results) string {
	for _, c := range r.Checkers {
		if c.Validity == harness.Invalid {
			if len(c.Anomalies) > 0 {
				return c.Checker + ": " + c.Anomalies[0].Explanation
			}
			return c.Checker + ": " + c.Summary
		}
	}
	return ""
}

func verdictWord(r *Record) string {
	if r.Verdict == "" {
		return "could not run (" + r.Error + ")"
	}
	return string(r.Verdict)
}

func fv(r *Record) string {
	if r.FirstViolation == nil {
		return ""
	}
	return fmt.Sprintf(", first violation at %.1f s", float64(*r.FirstViolation)/1e9)
}
