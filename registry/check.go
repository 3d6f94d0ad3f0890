package registry

import (
	"context"
	"errors"
	"fmt"
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
	t, err := harness.ReadTest(dir)
	if err != nil {
		return nil, err
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
	digests, err := harness.ReadDigests(dir)
	if err != nil {
		return nil, &harness.ConfigError{Err: err}
	}
	orig, origErr := harness.ReadResults(dir)
	// Convergence is judged again where the run judged it: the system made
	// digests (a check needs the workload, not the system).
	w, err := workload(t, len(digests) > 0 || (origErr == nil && hasChecker(orig, "convergence")), "")
	if err != nil {
		return nil, &harness.ConfigError{Err: fmt.Errorf("%w (a check needs the run's workload registered in this program)", err)}
	}

	res := &harness.Results{Test: t, Command: t.CommandLine(), Dir: dir, Digests: digests}
	if origErr == nil {
		res.Start, res.Duration, res.TestTime = orig.Start, orig.Duration, orig.TestTime
		res.Interrupted, res.Error, res.Phases = orig.Interrupted, orig.Error, orig.Phases
		if orig.Command != "" {
			res.Command = orig.Command
		}
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
	if err := validate(w.Checkers(), h, filepath.Join(dir, harness.HistoryFile)); err != nil {
		return nil, err
	}
	res.Checkers = harness.Check(ctx, w.Checkers(), harness.CheckInput{History: h, Digests: digests, Dir: artifacts}, t.CheckTimeout.D(), nil)
	if origErr == nil {
		for _, c := range orig.Checkers {
			if harness.ByRunner(c.Checker) {
				res.Checkers = append(res.Checkers, c)
			}
		}
	}
	res.Judge(h)
	if write {
		if err := harness.WriteResults(dir, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func hasChecker(r *harness.Results, name string) bool {
	for _, c := range r.Checkers {
		if c.Checker == name {
			return true
		}
	}
	return false
}

// validate lets checkers refuse a history they cannot judge (transactions
// given to a register checker): a bad input, exit 64, naming the op and its
// line (history.jsonl is written in index order, one op a line).
func validate(checkers []harness.Checker, h harness.History, path string) error {
	for _, c := range checkers {
		if v, ok := c.(harness.HistoryValidator); ok {
			if e := v.ValidateHistory(h); e != nil {
				return &harness.ConfigError{Err: fmt.Errorf("%s:%d: %v", path, e.Pos+1, e)}
			}
		}
	}
	return nil
}
