// Results: what the run writes into its folder.

package harness

import (
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
	if r.runErr != nil {
		r.res.Error = r.runErr.Error()
	}
	r.res.Judge(r.hw.History())
}

func (r *run) write() error {
	var errs []error
	if err := WriteResults(r.dir, &r.res); err != nil {
		errs = append(errs, err)
	}
	if err := WriteJSON(filepath.Join(r.dir, DigestsFile), r.digests); err != nil {
		errs = append(errs, err)
	}
	if err := pointLatest(r.t.Out, r.dir); err != nil {
		r.log.Warn("latest link", "err", err)
	}
	return errors.Join(errs...)
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
