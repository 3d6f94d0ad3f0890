package harness

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The run folder (<out>/<name>/<start>/) has one owner: these functions read
// and write its files for the runner, check, report, shrink, import and
// campaigns alike.

// stampLayout: UTC to the second, so folder names sort by start.
const stampLayout = "20060102T150405Z"

// Stamp is the name of a folder started at t: a run's, a campaign's, a
// reproduction's.
func Stamp(t time.Time) string { return t.UTC().Format(stampLayout) }

// NewRunDir creates <out>/<name>/<Stamp(start)>, adding a suffix (-2, -3…)
// if a parallel run took the name in the same second.
func NewRunDir(out, name string, start time.Time) (string, error) {
	parent := filepath.Join(out, name)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("create results dir: %w", err)
	}
	base := Stamp(start)
	for i := 1; ; i++ {
		dir := filepath.Join(parent, base)
		if i > 1 {
			dir += fmt.Sprintf("-%d", i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 1000 {
			return "", fmt.Errorf("create run dir: %w", err)
		}
	}
}

// WriteRun writes a whole run folder at once, as a run that was not made
// by the runner has it (an imported history): config.json, history.jsonl
// and results.json.
func WriteRun(dir string, t Test, h History, res *Results) error {
	if err := WriteJSON(filepath.Join(dir, ConfigFile), t); err != nil {
		return err
	}
	if err := writeHistory(filepath.Join(dir, HistoryFile), h); err != nil {
		return err
	}
	return WriteResults(dir, res)
}

// writeHistory writes h one op a line, as the runner's history writer does.
func writeHistory(path string, h History) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	for _, op := range h {
		b, err := op.MarshalLine()
		if err == nil {
			_, err = w.Write(append(b, '\n'))
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", filepath.Base(path), err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}

// WriteResults writes a run folder's results.json.
func WriteResults(dir string, res *Results) error {
	return WriteJSON(filepath.Join(dir, ResultsFile), res)
}

// RunFolder is what a run folder holds, as far as it could be read: a
// crashed or interrupted run may lack results.json or digests.json, and a
// reader (the report) then says so instead of failing.
type RunFolder struct {
	Dir     string
	Test    Test     // results.json's test, else config.json's
	Results *Results // nil: no results.json
	History History
	Digests []Digest // digests.json's, else the results'
	Missing []string // run files that were absent
	Files   []string // run files present, by name
}

// ReadRun reads a run folder leniently. Only a missing directory, a
// malformed file or a history that cannot be read is an error.
func ReadRun(dir string) (*RunFolder, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open run %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("open run %s: not a directory", dir)
	}
	r := &RunFolder{Dir: dir}
	absent := func(name string, err error) (bool, error) {
		if errors.Is(err, fs.ErrNotExist) {
			r.Missing = append(r.Missing, name)
			return true, nil
		}
		return false, err
	}
	res, err := ReadResults(dir)
	if err == nil {
		r.Results, r.Test = res, res.Test
	} else if _, err := absent(ResultsFile, err); err != nil {
		return nil, err
	}
	var cfg Test
	err = ReadJSON(filepath.Join(dir, ConfigFile), &cfg)
	if err == nil && (r.Results == nil || r.Test.Name == "") {
		r.Test = cfg
	} else if err != nil {
		if _, err := absent(ConfigFile, err); err != nil {
			return nil, err
		}
	}
	r.History, err = ReadHistory(filepath.Join(dir, HistoryFile))
	if err != nil {
		if _, err := absent(HistoryFile, err); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
	}
	err = ReadJSON(filepath.Join(dir, DigestsFile), &r.Digests)
	if errors.Is(err, fs.ErrNotExist) {
		if r.Results != nil {
			r.Digests = r.Results.Digests
		}
	} else if err != nil {
		return nil, err
	}
	for _, name := range []string{ConfigFile, HistoryFile, ResultsFile, DigestsFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			r.Files = append(r.Files, name)
		}
	}
	return r, nil
}

// ReadTest reads a run folder's config.json. A folder that is not a run is
// a *ConfigError naming what is missing.
func ReadTest(dir string) (Test, error) {
	var t Test
	if err := ReadJSON(filepath.Join(dir, ConfigFile), &t); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return t, &ConfigError{Err: fmt.Errorf("%s is not a run folder (no %s)", dir, ConfigFile)}
		}
		return t, &ConfigError{Err: err}
	}
	return t, nil
}

// ReadResults reads a run folder's results.json (fs.ErrNotExist if the run
// never finished).
func ReadResults(dir string) (*Results, error) {
	var r Results
	if err := ReadJSON(filepath.Join(dir, ResultsFile), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReadDigests reads a run folder's digests.json; none if there is no file.
func ReadDigests(dir string) ([]Digest, error) {
	var ds []Digest
	err := ReadJSON(filepath.Join(dir, DigestsFile), &ds)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ds, err
}

// ReadJSON decodes the JSON file at path into v; errors name the file.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// WriteJSON writes v as indented JSON to path, atomically (a reader never
// sees half a file).
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Judge derives what results say from the history and the checker
// results already in r: the ops completed, the verdict and the first
// violation. A run that could not be carried out, or was interrupted, is
// never valid: it proves nothing (unknown unless it found a violation).
func (r *Results) Judge(h History) {
	r.Ops = 0
	for _, op := range h {
		if !op.IsNemesis() && op.Type != Invoke {
			r.Ops++
		}
	}
	r.Verdict = Verdict(r.Checkers)
	r.FirstViolation = FirstViolation(r.Checkers)
	if (r.Interrupted || r.Error != "") && r.Verdict == Valid {
		r.Verdict = Unknown
	}
}
