// Package report writes a run's self-contained report.html and the index of
// all runs, and serves the results tree. It reads what a run left on disk
// (config.json, history.jsonl, results.json, digests.json, nodes/*/*.log)
// and never re-judges: verdicts come from results.json.
package report

import (
	"context"
	"errors"
)

// Write reads the run in runDir and writes runDir/report.html.
func Write(ctx context.Context, runDir string) error {
	return errors.New("report: not implemented yet")
}
