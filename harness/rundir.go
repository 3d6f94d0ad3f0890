package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The run folder (<out>/<name>/<start>/) has one owner: these functions read
// and write its files for the runner, check, report, shrink, import and
// campaigns alike.

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
