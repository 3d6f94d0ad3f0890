package main

import (
	"errors"
	"net/http"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// openQuorum opens the quorum-mode store and the handler for its peer RPCs
// (mounted under /internal/quorum/). Owned by the quorum mode.
func openQuorum(c nodeConfig) (api.Store, http.Handler, error) {
	return nil, nil, errors.New("quorum mode is not built yet")
}
