package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gauntlet-dev/gauntlet/systemundertest/clock"
)

// ForwardedHeader marks a request a node forwarded to the leader. The
// receiving node must not forward it again (it answers 503 if it is no longer
// the leader), so a stale view of leadership can never loop a request.
const ForwardedHeader = "X-Kvnode-Forwarded"

type forwardedKey struct{}

// WithForwarded marks ctx as serving a forwarded request.
func WithForwarded(ctx context.Context) context.Context {
	return context.WithValue(ctx, forwardedKey{}, true)
}

// Forwarded reports whether ctx serves a request another node forwarded.
func Forwarded(ctx context.Context) bool {
	v, _ := ctx.Value(forwardedKey{}).(bool)
	return v
}

// ServerOptions configures NewServer. The zero value is usable.
type ServerOptions struct {
	// Clock is the node's clock; POST /debug/clock sets its offset
	// (nil: the endpoint answers 501).
	Clock *clock.Skewable
	// Internal serves peer RPCs (raft transport or quorum replication),
	// mounted at /internal/ with the full path preserved.
	Internal http.Handler
	Logger   *slog.Logger
	// Timeout bounds each client request on the server (0 = 10s). Clients
	// normally time out first; this only stops abandoned work piling up.
	Timeout time.Duration
}

// NewServer returns kvnode's HTTP handler over store:
//
//	GET  /kv/{key}[?stale=true]  200 {"value": "...", "found": bool}
//	PUT  /kv/{key}               {"value": "..."} → 200 {}
//	POST /kv/{key}/cas           {"from": "...", "to": "..."} → 200 {"ok": true}
//	                             or 409 {"ok": false, "value": "...", "found": bool}
//	POST /txn                    {"txn": [["append","x","1"], ["r","y",[]]]} → 200 {"txn": [… reads filled]}
//	                             or 409 {"error": …} refused as a whole (see txn.go)
//	POST /lock/{name}/acquire    {"owner": "p3", "ttl_ms": 2000} → 200 {"token": N} or 409 held (lock.go)
//	POST /lock/{name}/release    {"owner": "p3", "token": N} → 200 {} or 409 not the holder
//	POST /set/{key}/add, GET /set/{key}, POST /counter/{key}/add, GET /counter/{key}  (see setctr.go)
//	GET  /debug/status           Status
//	GET  /debug/digest[?values=true]  Digest
//	POST /debug/clock            {"offset_ms": N} → 200 {"offset_ms": N}
//	/internal/...                ServerOptions.Internal
//
// Errors have a body {"error": "..."}: 400 bad request (nothing applied),
// 503 ErrNotApplied, 504 ErrUnknown; see the package doc.
func NewServer(store Store, opts ServerOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	s := &server{store: store, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kv/{key}", s.get)
	mux.HandleFunc("PUT /kv/{key}", s.put)
	mux.HandleFunc("POST /kv/{key}/cas", s.cas)
	mux.HandleFunc("POST /txn", s.txn)
	mux.HandleFunc("POST /lock/{name}/acquire", s.acquire) // lock.go
	mux.HandleFunc("POST /lock/{name}/release", s.release)
	s.setCounterRoutes(mux) // setctr.go
	mux.HandleFunc("GET /debug/status", s.status)
	mux.HandleFunc("GET /debug/digest", s.digest)
	mux.HandleFunc("POST /debug/clock", s.setClock)
	if opts.Internal != nil {
		mux.Handle("/internal/", opts.Internal)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no route for " + r.Method + " " + r.URL.Path})
	})
	return mux
}

type server struct {
	store Store
	opts  ServerOptions
}

type errorBody struct {
	Error string `json:"error"`
}

// ValueBody is the response of GET /kv/{key}.
type ValueBody struct {
	Value string `json:"value"`
	Found bool   `json:"found"`
}

// CASBody is the response of POST /kv/{key}/cas.
type CASBody struct {
	OK    bool   `json:"ok"`
	Value string `json:"value,omitempty"`
	Found bool   `json:"found,omitempty"`
}

// requestContext bounds the request and carries the forwarded mark.
func (s *server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	if r.Header.Get(ForwardedHeader) != "" {
		ctx = WithForwarded(ctx)
	}
	return ctx, cancel
}

func (s *server) get(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.requestContext(r)
	defer cancel()
	stale := r.URL.Query().Get("stale")
	v, found, err := s.store.Get(ctx, r.PathValue("key"), stale == "true" || stale == "1")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ValueBody{Value: v, Found: found})
}

func (s *server) put(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Value *string `json:"value"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if in.Value == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body lacks "value"`})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if err := s.store.Put(ctx, r.PathValue("key"), *in.Value); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *server) cas(w http.ResponseWriter, r *http.Request) {
	var in struct {
		From *string `json:"from"`
		To   *string `json:"to"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if in.From == nil || in.To == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body needs "from" and "to"`})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	res, err := s.store.CAS(ctx, r.PathValue("key"), *in.From, *in.To)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !res.OK {
		writeJSON(w, http.StatusConflict, CASBody{OK: false, Value: res.Current, Found: res.Found})
		return
	}
	writeJSON(w, http.StatusOK, CASBody{OK: true})
}

func (s *server) status(w http.ResponseWriter, _ *http.Request) {
	st := s.store.Status()
	if s.opts.Clock != nil {
		st.ClockOffset = s.opts.Clock.Offset().Milliseconds()
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *server) digest(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query().Get("values")
	writeJSON(w, http.StatusOK, s.store.Digest(v == "true" || v == "1"))
}

func (s *server) setClock(w http.ResponseWriter, r *http.Request) {
	if s.opts.Clock == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "this node has no adjustable clock"})
		return
	}
	var in struct {
		OffsetMS *int64 `json:"offset_ms"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if in.OffsetMS == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body lacks "offset_ms"`})
		return
	}
	s.opts.Clock.SetOffset(time.Duration(*in.OffsetMS) * time.Millisecond)
	s.opts.Logger.Info("clock offset set", "offset_ms", *in.OffsetMS)
	writeJSON(w, http.StatusOK, map[string]int64{"offset_ms": *in.OffsetMS})
}

// fail answers err with its classification: 503 certainly not applied,
// 504 maybe applied (anything unclassified counts as maybe).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusGatewayTimeout
	if errors.Is(Classify(err), ErrNotApplied) {
		code = http.StatusServiceUnavailable
	}
	s.opts.Logger.Debug("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	writeJSON(w, code, errorBody{Error: err.Error()})
}

// decodeBody reads one JSON object; any error means nothing was attempted.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		code, data = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(data, '\n'))
}
