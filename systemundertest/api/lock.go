package api

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// LockStore is a Store with named locks, leases and fencing tokens. A
// mode without it answers the lock routes with 501.
type LockStore interface {
	// Acquire grants name to owner for ttl and returns the fencing token;
	// a *RefusedError (409) when the lock is held.
	Acquire(ctx context.Context, name, owner string, ttl time.Duration) (token uint64, err error)
	// Release frees name if owner holds it with token; a *RefusedError
	// (409) when it does not.
	Release(ctx context.Context, name, owner string, token uint64) error
}

// NoLocks is why a store without LockStore refuses the lock routes.
const NoLocks = "this mode has no locks"

// AcquireBody is the request of POST /lock/{name}/acquire.
type AcquireBody struct {
	Owner string `json:"owner"`
	TTLMS int64  `json:"ttl_ms"`
}

// ReleaseBody is the request of POST /lock/{name}/release.
type ReleaseBody struct {
	Owner string `json:"owner"`
	Token uint64 `json:"token"`
}

// TokenBody is the answer of an acquire: the fencing token.
type TokenBody struct {
	Token uint64 `json:"token"`
}

// acquire serves POST /lock/{name}/acquire: 200 {"token": N}; 409 held
// (certainly not granted); 400 malformed; 501 no locks; 503/504 as for
// writes.
func (s *server) acquire(w http.ResponseWriter, r *http.Request) {
	ls, ok := s.store.(LockStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: NoLocks})
		return
	}
	var in AcquireBody
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if in.Owner == "" || in.TTLMS <= 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body needs "owner" and a positive "ttl_ms"`})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	token, err := ls.Acquire(ctx, r.PathValue("name"), in.Owner, time.Duration(in.TTLMS)*time.Millisecond)
	if s.refused(w, err) {
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TokenBody{Token: token})
}

// release serves POST /lock/{name}/release: 200 {}; 409 not the holder;
// 400, 501, 503, 504 as acquire.
func (s *server) release(w http.ResponseWriter, r *http.Request) {
	ls, ok := s.store.(LockStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: NoLocks})
		return
	}
	var in ReleaseBody
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if in.Owner == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body needs "owner"`})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	err := ls.Release(ctx, r.PathValue("name"), in.Owner, in.Token)
	if s.refused(w, err) {
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// refused answers a refusal 409 with its reason.
func (s *server) refused(w http.ResponseWriter, err error) bool {
	var refused *RefusedError
	if errors.As(err, &refused) {
		writeJSON(w, http.StatusConflict, errorBody{Error: refused.Reason})
		return true
	}
	return false
}
