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
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("campaign dir: %w", err)
	}
	st, err := loadState(o.Dir)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = &State{Spec: spec, Runs: runs, Shard: o.Shard.String(), Start: time.Now(), Records: map[string]*Record{}}
	} else if st.Spec.Name != spec.Name {
		return nil, fmt.Errorf("campaign dir %s holds campaign %q, not %q", o.Dir, st.Spec.Name, spec.Name)
	} else if st.Shard != o.Shard.String() {
		return nil, fmt.Errorf("campaign dir %s holds shard %q of %s, not shard %q", o.Dir, st.Shard, spec.Name, o.Shard.String())
	} else {
		logf("resuming campaign %s: %d runs already finished", spec.Name, len(st.Records))
	}
	var mu sync.Mutex
	save := func() error {
		mu.Lock()
		defer mu.Unlock()
		return writeJSONAtomic(filepath.Join(o.Dir, StateFile), st)
	}
	if err := save(); err != nil {
		return nil, fmt.Errorf("campaign state: %w", err)
	}

	start := time.Now()
	g := new(errgroup.Group)
	g.SetLimit(o.Parallel)
	skipped := 0
	stopped := map[string]bool{}
	// A campaign whose every run so far failed with one and the same error
	// (kvnode cannot be built, Docker is down) stops starting runs instead
	// of failing all of them the same way.
	var hopeless string
	sameErr, lastErr, anyRan := 0, "", false
	for _, rec := range st.Records {
		anyRan = anyRan || rec.Error == ""
	}
	for _, r := range runs {
		r := r
		mu.Lock()
		_, done := st.Records[r.Key()]
		cellStopped := stopped[r.Cell.Key()]
		giveUp := hopeless != ""
		mu.Unlock()
		if done || cellStopped {
			continue
		}
		if ctx.Err() != nil || giveUp || (o.Budget > 0 && time.Since(start) > o.Budget) {
			skipped++
			continue
		}
		g.Go(func() error {
			mu.Lock()
			cellStopped := stopped[r.Cell.Key()]
			giveUp := hopeless != ""
			mu.Unlock()
			if ctx.Err() != nil || cellStopped || giveUp || (o.Budget > 0 && time.Since(start) > o.Budget) {
				return nil
			}
			out := filepath.Join(o.Dir, "runs", filepath.FromSlash(r.Key()))
			t := spec.Test(r, o.Template, out)
			logf("start %s", r.Key())
			began := time.Now()
			res, err := o.Run(ctx, t)
			// A run's history, checks and report are garbage now: give
			// the memory back, so that the campaign's resident memory is
			// that of the runs under way, not of the biggest run so far.
			debug.FreeOSMemory()
			if ctx.Err() != nil && (res == nil || res.Interrupted) {
				logf("interrupted %s (will run again on resume)", r.Key())
				return nil
			}
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
			rec.Dir = findRunDir(out, o.Dir)
			mu.Lock()
			st.Records[r.Key()] = rec
			if o.Stop != nil && o.Stop(r, rec) {
				stopped[r.Cell.Key()] = true
			}
			switch {
			case rec.Error == "":
				anyRan, sameErr = true, 0
			case rec.Error == lastErr:
				sameErr++
			default:
				lastErr, sameErr = rec.Error, 1
			}
			if !anyRan && sameErr >= hopelessAfter && hopeless == "" {
				hopeless = rec.Error
				logf("every run so far could not run, with the same error; not starting the rest: %s", hopeless)
			}
			mu.Unlock()
			logf("done  %s: %s%s", r.Key(), verdictWord(rec), fv(rec))
			return save()
		})
	}
	werr := g.Wait()
	if skipped > 0 {
		logf("budget, interrupt or a hopeless campaign: %d runs not started", skipped)
	}
	sum := Summarize(st, o.Dir)
	sum.NotStarted = countNotStarted(runs, st, stopped)
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
