package campaign

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// The reproduction registry: known bugs of real systems, each with a
// reproducer (a campaign file) and the options that select the affected and
// the fixed release. `gauntlet bench reproduce` runs both with the same
// seeds and keeps a history, one line per bug and release per night, from
// which it writes the table (catches/runs, median runs and seconds to the
// first catch, the commit at which the bug was last reproduced).

// Reproducer is one entry of the registry file.
type Reproducer struct {
	Bug      string            `yaml:"bug"`      // "etcd #13766"
	URL      string            `yaml:"url"`      // the upstream issue
	Summary  string            `yaml:"summary"`  // one line
	Campaign string            `yaml:"campaign"` // reproducer, relative to the registry file
	Affected map[string]string `yaml:"affected"` // system options of the affected release
	Fixed    map[string]string `yaml:"fixed"`    // … of the release with the fix
	Seeds    int               `yaml:"seeds"`    // runs per release (default: the campaign's)
	// Expect is "caught" for a bug the reproducer is known to catch (not
	// catching it then fails the benchmark) or "hunt" for one not yet
	// reproduced here (only a catch of the fixed release fails).
	Expect string `yaml:"expect"`
}

// Registry is the registry file (campaigns/reproduce.yaml).
type Registry struct {
	Reproducers []Reproducer `yaml:"reproducers"`
	dir         string
}

// LoadRegistry reads and checks the registry file.
func LoadRegistry(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reproduction registry: %w", err)
	}
	var r Registry
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("reproduction registry %s: %v (want reproducers: [{bug, campaign, affected, fixed, …}])", path, err)
	}
	r.dir = filepath.Dir(path)
	for i, p := range r.Reproducers {
		if p.Bug == "" || p.Campaign == "" || len(p.Affected) == 0 || len(p.Fixed) == 0 {
			return nil, fmt.Errorf("reproduction registry %s: entry %d needs bug, campaign, affected and fixed", path, i+1)
		}
		if p.Expect != "caught" && p.Expect != "hunt" {
			return nil, fmt.Errorf("reproduction registry %s: %s: expect %q, want caught or hunt", path, p.Bug, p.Expect)
		}
	}
	return &r, nil
}

// Spec is the reproducer's campaign with the two releases as its options
// dimension (affected first), so both run with the same seeds.
func (r *Registry) Spec(p Reproducer) (Spec, error) {
	s, err := LoadSpec(filepath.Join(r.dir, p.Campaign))
	if err != nil {
		return Spec{}, err
	}
	s.Options = []map[string]string{p.Affected, p.Fixed}
	if p.Seeds > 0 {
		s.Seeds, s.SeedList = p.Seeds, nil
	}
	return s, nil
}

// Attempt is one line of the history: one release of one bug in one night.
type Attempt struct {
	Date    time.Time         `json:"date"`
	Commit  string            `json:"commit"`
	Bug     string            `json:"bug"`
	Release string            `json:"release"` // "affected" or "fixed"
	Options map[string]string `json:"options"`
	Runs    int               `json:"runs"`
	Catches int               `json:"catches"` // invalid runs
	Unknown int               `json:"unknown"` // unknown or not carried out
	Seeds   []int64           `json:"seeds"`
	// RunsToFirst and SecondsToFirst: runs (in seed order) and wall seconds
	// until the first catch, that run included; nil without a catch.
	RunsToFirst    *int     `json:"runs_to_first,omitempty"`
	SecondsToFirst *float64 `json:"seconds_to_first,omitempty"`
	Dir            string   `json:"dir"`
}

// Attempts turns a reproducer campaign's summary into its two attempts.
func Attempts(p Reproducer, sum *Summary, commit, dir string, now time.Time) []Attempt {
	var out []Attempt
	for _, rel := range []struct {
		name string
		opts map[string]string
	}{{"affected", p.Affected}, {"fixed", p.Fixed}} {
		a := Attempt{Date: now, Commit: commit, Bug: p.Bug, Release: rel.name, Options: rel.opts, Dir: dir}
		secs := 0.0
		for _, cs := range sum.Cells {
			if !sameOptions(cs.Cell.Options, rel.opts) {
				continue
			}
			for _, rec := range cs.Records { // in seed order
				a.Runs++
				a.Seeds = append(a.Seeds, rec.Run.Seed)
				secs += rec.Wall.D().Seconds()
				switch rec.Verdict {
				case harness.Invalid:
					a.Catches++
					if a.RunsToFirst == nil {
						n, s := a.Runs, secs
						a.RunsToFirst, a.SecondsToFirst = &n, &s
					}
				case harness.Valid:
				default:
					a.Unknown++
				}
			}
		}
		out = append(out, a)
	}
	return out
}

func sameOptions(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// AppendHistory adds attempts to the history file (JSON lines).
func AppendHistory(path string, as []Attempt) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, a := range as {
		if err := enc.Encode(a); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// ReadHistory reads the history file; a missing file is an empty history.
func ReadHistory(path string) ([]Attempt, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var as []Attempt
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a Attempt
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		as = append(as, a)
	}
	return as, sc.Err()
}

// WriteReproductionTable writes the markdown table over the whole history:
// per bug and release, the latest night's catches/runs, all nights'
// catches/runs, the medians over the nights with a catch of runs and
// seconds to the first catch, and the last commit with a catch.
func WriteReproductionTable(w io.Writer, reg *Registry, hist []Attempt) error {
	fmt.Fprintln(w, "| bug | release | options | latest: catches/runs | all nights: catches/runs | median runs to first catch | median seconds to first catch | last reproduced (commit, date) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, p := range reg.Reproducers {
		for _, rel := range []string{"affected", "fixed"} {
			var latest *Attempt
			runs, catches := 0, 0
			var toRuns, toSecs []float64
			last := "never"
			for i := range hist {
				a := &hist[i]
				if a.Bug != p.Bug || a.Release != rel {
					continue
				}
				latest = a
				runs += a.Runs
				catches += a.Catches
				if a.RunsToFirst != nil {
					toRuns = append(toRuns, float64(*a.RunsToFirst))
					toSecs = append(toSecs, *a.SecondsToFirst)
					last = fmt.Sprintf("%s, %s", a.Commit, a.Date.UTC().Format("2006-01-02"))
				}
			}
			lat, opts := "–", optionString(p.Affected)
			if rel == "fixed" {
				opts = optionString(p.Fixed)
			}
			if latest != nil {
				lat = fmt.Sprintf("%d/%d", latest.Catches, latest.Runs)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %d/%d | %s | %s | %s |\n", p.Bug, rel, opts, lat, catches, runs,
				medianOrDash(toRuns, "%.0f"), medianOrDash(toSecs, "%.0f"), last)
		}
	}
	return nil
}

func optionString(m map[string]string) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

func medianOrDash(xs []float64, f string) string {
	if len(xs) == 0 {
		return "–"
	}
	return fmt.Sprintf(f, median(xs))
}
