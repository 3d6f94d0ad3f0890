package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Recheck judges a stored run again with the current checkers: its
// config.json names the workload, history.jsonl is the history (a torn last
// line from a killed harness is dropped), digests.json the convergence
// digests. The recovery result of the original run, which the history alone
// cannot tell, is carried over from results.json when there is one.
//
// A malformed history line is a *harness.SyntaxError; a directory that is
// not a run is a *harness.ConfigError. With write set, checker artifacts go
// into dir and results.json is replaced; otherwise nothing is written.
func Recheck(ctx context.Context, dir string, checkTimeout time.Duration, write bool) (*harness.Results, error) {
	var t harness.Test
	if err := readJSON(filepath.Join(dir, harness.ConfigFile), &t); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &harness.ConfigError{Err: fmt.Errorf("%s is not a run directory (no %s)", dir, harness.ConfigFile)}
		}
		return nil, &harness.ConfigError{Err: err}
	}
	t = t.WithDefaults()
	if checkTimeout > 0 {
		t.CheckTimeout = harness.Duration(checkTimeout)
	}
	h, err := harness.ReadHistory(filepath.Join(dir, harness.HistoryFile))
	if err != nil {
		var se *harness.SyntaxError
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, &harness.ConfigError{Err: fmt.Errorf("read history: %w", err)}
	}
	var digests []harness.Digest
	if err := readJSON(filepath.Join(dir, harness.DigestsFile), &digests); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, &harness.ConfigError{Err: err}
	}
	w, err := Workload(t)
	if err != nil {
		return nil, &harness.ConfigError{Err: err}
	}

	res := &harness.Results{Test: t, Command: t.CommandLine(), Dir: dir, Digests: digests}
	var orig harness.Results
	origErr := readJSON(filepath.Join(dir, harness.ResultsFile), &orig)
	if origErr == nil {
		res.Start, res.Duration, res.TestTime = orig.Start, orig.Duration, orig.TestTime
		res.Interrupted, res.Error, res.Phases = orig.Interrupted, orig.Error, orig.Phases
	} else {
		// No results.json: the harness died before the end. What is there is
		// judged, but it is a partial run.
		res.Interrupted = true
	}
	artifacts := dir
	if !write {
		// Check in a scratch directory: the original's artifacts stay as they are.
		scratch, err := os.MkdirTemp("", "gauntlet-check-")
		if err != nil {
			return nil, fmt.Errorf("check dir: %w", err)
		}
		defer os.RemoveAll(scratch)
		artifacts = scratch
	}
	res.Checkers = harness.Check(ctx, w.Checkers(), harness.CheckInput{History: h, Digests: digests, Dir: artifacts}, t.CheckTimeout.D(), nil)
	for _, c := range orig.Checkers {
		if c.Checker == harness.RecoveryChecker {
			res.Checkers = append(res.Checkers, c)
		}
	}
	for _, op := range h {
		if !op.IsNemesis() && op.Type != harness.Invoke {
			res.Ops++
		}
	}
	res.Verdict = harness.Verdict(res.Checkers)
	res.FirstViolation = harness.FirstViolation(res.Checkers)
	if (res.Interrupted || res.Error != "") && res.Verdict == harness.Valid {
		res.Verdict = harness.Unknown
	}
	if write {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return res, fmt.Errorf("encode results: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, harness.ResultsFile), append(b, '\n'), 0o644); err != nil {
			return res, fmt.Errorf("write results: %w", err)
		}
	}
	return res, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
