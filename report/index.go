package report

import (
	"errors"
	"net/http"
)

// WriteIndex writes resultsRoot/index.html: every run under
// resultsRoot/<test>/<start>/ that has a results.json, newest first.
func WriteIndex(resultsRoot string) error {
	return errors.New("report: not implemented yet")
}

// Handler serves the results tree under resultsRoot, with a fresh index at /.
func Handler(resultsRoot string) http.Handler {
	return http.FileServer(http.Dir(resultsRoot))
}
