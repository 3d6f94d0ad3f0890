package campaign

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Shard is the I-th of N shares of a campaign's matrix (1 ≤ I ≤ N), for
// spreading one campaign over N machines: each runs `gauntlet campaign
// --shard I/N FILE`, and `gauntlet campaign merge` joins their folders.
type Shard struct{ Index, Count int }

// ParseShard reads "I/N".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 1 ≤ I ≤ N, e.g. 2/3", s)
	}
	return Shard{Index: i, Count: n}, nil
}

func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Select deals runs out round-robin in the matrix's stable order (Spec.Runs:
// every cell before any second seed), so each shard gets a spread of cells
// and seeds, and the same file always gives every shard the same runs.
func (s Shard) Select(runs []Run) []Run {
	if s.Count <= 1 {
		return runs
	}
	var out []Run
	for i, r := range runs {
		if i%s.Count == s.Index-1 {
			out = append(out, r)
		}
	}
	return out
}

// Merge joins the folders of a campaign's shards into out: a state.json of
// the whole matrix (so `gauntlet campaign --dir OUT FILE` can run what is
// missing), summary.json, summary.html and, if junit is set, JUnit XML. The
// summary's Missing lists the runs no shard finished. Every folder must hold
// the same campaign file's state.
func Merge(dirs []string, out, junit string) (*Summary, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("merge: no shard folders given")
	}
	var merged *State
	var specJSON []byte
	for _, dir := range dirs {
		st, err := loadState(dir)
		if err != nil {
			return nil, err
		}
		if st == nil {
			return nil, fmt.Errorf("merge: %s holds no %s (not a campaign folder)", dir, StateFile)
		}
		sj, _ := json.Marshal(st.Spec)
		if merged == nil {
			merged = &State{Spec: st.Spec, Runs: st.Spec.Runs(), Start: st.Start, Records: map[string]*Record{}}
			specJSON = sj
		} else if string(sj) != string(specJSON) {
			return nil, fmt.Errorf("merge: %s is a different campaign (or file) than %s: %s vs %s", dir, dirs[0], sj, specJSON)
		}
		if st.Start.Before(merged.Start) {
			merged.Start = st.Start
		}
		for k, rec := range st.Records {
			r := *rec
			if r.Dir != "" {
				r.Dir = relTo(out, filepath.Join(dir, rec.Dir))
			}
			// A run finished by two shards (a shard run twice): the later counts.
			if old, ok := merged.Records[k]; !ok || r.Finished.After(old.Finished) {
				merged.Records[k] = &r
			}
		}
	}
	if err := writeState(out, merged); err != nil {
		return nil, err
	}
	sum := Summarize(merged, out)
	for _, r := range merged.Runs {
		if _, ok := merged.Records[r.Key()]; !ok {
			sum.Missing = append(sum.Missing, r.Key())
		}
	}
	sum.NotStarted = len(sum.Missing)
	if err := sum.Write(out); err != nil {
		return sum, err
	}
	if junit != "" {
		if err := sum.WriteJUnit(junit); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func writeState(dir string, st *State) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return harness.WriteJSON(filepath.Join(dir, StateFile), st)
}

// relTo is path relative to base when possible (reports link with it).
func relTo(base, path string) string {
	ab, err1 := filepath.Abs(base)
	ap, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return path
	}
	if rel, err := filepath.Rel(ab, ap); err == nil {
		return rel
	}
	return ap
}

// ShardDir is a shard's default folder name suffix, e.g. "-shard-2-of-3".
func ShardDir(s Shard) string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("-shard-%d-of-%d", s.Index, s.Count)
}
