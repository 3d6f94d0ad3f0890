// Results: what the run writes into its folder.

package harness

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func (r *run) finish() {
	zero := r.mainT0
	if zero.IsZero() {
		zero = r.start
	}
	for i := range r.res.Phases {
		r.res.Phases[i].Start = int64(r.phaseT0[i].Sub(zero))
	}
	r.res.Digests = r.digests
	r.res.Duration = Duration(time.Since(r.start))
	for _, op := range r.hw.History() {
		if !op.IsNemesis() && op.Type != Invoke {
			r.res.Ops++
		}
	}
	r.res.Verdict = Verdict(r.res.Checkers)
	r.res.FirstViolation = FirstViolation(r.res.Checkers)
	if r.runErr != nil {
		r.res.Error = r.runErr.Error()
		if r.res.Verdict == Valid {
			r.res.Verdict = Unknown // a run that did not happen proves nothing
		}
	}
	if r.res.Interrupted && r.res.Verdict == Valid {
		r.res.Verdict = Unknown // no recovery, no final reads: not a pass
	}
}

func (r *run) write() error {
	var errs []error
	if err := writeJSON(filepath.Join(r.dir, ResultsFile), r.res); err != nil {
		errs = append(errs, err)
	}
	if err := writeJSON(filepath.Join(r.dir, DigestsFile), r.digests); err != nil {
		errs = append(errs, err)
	}
	if err := pointLatest(r.t.Out, r.dir); err != nil {
		r.log.Warn("latest link", "err", err)
	}
	return errors.Join(errs...)
}

func writeJSON(path string, v any) error {
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

// pointLatest makes <out>/latest a relative symlink to dir, replacing it
// atomically (parallel runs race; the last one wins).
func pointLatest(out, dir string) error {
	rel, err := filepath.Rel(out, dir)
	if err != nil {
		return err
	}
	link := filepath.Join(out, "latest")
	tmp := fmt.Sprintf("%s.tmp-%d-%d", link, os.Getpid(), time.Now().UnixNano())
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
