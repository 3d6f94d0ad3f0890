package kvnode

import (
	"net/http"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/quorum"
)

// openQuorum opens the quorum-mode store and the handler for its peer RPCs
// (mounted under /internal/; the routes are /internal/quorum/get, put and
// repair). Owned by the quorum mode.
func openQuorum(e env.Env, c nodeConfig) (api.Store, http.Handler, error) {
	cfg := quorum.Config{
		ID:          c.ID,
		Peers:       c.Peers,
		DataDir:     c.DataDir,
		N:           c.N,
		R:           c.R,
		W:           c.W,
		Consistency: c.Consistency,
		Bug:         c.Bug,
		Logger:      c.Logger,
		Env:         e,
	}
	if c.Clock != nil { // a nil *Skewable must not become a non-nil interface
		cfg.Clock = c.Clock
	}
	s, err := quorum.Open(cfg)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Handler(), nil
}
