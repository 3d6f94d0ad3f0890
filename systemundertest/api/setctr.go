package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
)

// Sets and counters, beside the registers.
//
// A set is add-only: adding an element it holds changes nothing. A counter
// starts at 0 and takes signed deltas. A counter add carries the client's
// request id: a store applies each id once, so a client that did not hear
// whether an add took effect may send it again with the same id. Sets and
// counters live apart from registers (a key may name one of each).
//
//	POST /set/{key}/add       {"element": "17"} → 200 {}
//	GET  /set/{key}           200 {"elements": ["3", "17"]} (each once, in no promised order; [] when absent)
//	POST /counter/{key}/add   {"delta": -3, "id": "…"} → 200 {}
//	GET  /counter/{key}       200 {"value": 42} (0 when absent)
//
// A mode without sets (SetStore) or counters (CounterStore) answers 501;
// errors are classified as for writes and reads (503, 504, 400).

// SetStore is a Store with add-only sets.
type SetStore interface {
	SetAdd(ctx context.Context, key, elem string) error
	// SetRead returns the elements of key (none when absent).
	SetRead(ctx context.Context, key string) ([]string, error)
}

// CounterStore is a Store with counters.
type CounterStore interface {
	// CounterAdd adds delta to key once per id ("" = no deduplication).
	CounterAdd(ctx context.Context, key string, delta int64, id string) error
	CounterRead(ctx context.Context, key string) (int64, error)
}

// ElementsBody is the response of GET /set/{key}.
type ElementsBody struct {
	Elements []string `json:"elements"`
}

// CounterBody is the response of GET /counter/{key}.
type CounterBody struct {
	Value int64 `json:"value"`
}

// CounterAddBody is the request of POST /counter/{key}/add.
type CounterAddBody struct {
	Delta *int64 `json:"delta"`
	ID    string `json:"id,omitempty"`
}

// Why modes without sets or counters refuse their routes.
const (
	NoSets     = "this mode has no sets"
	NoCounters = "this mode has no counters"
)

// idPattern bounds request ids: printable, at most 64 bytes.
var idPattern = regexp.MustCompile(`^[\x21-\x7e]{0,64}$`)

// ErrBadID is a counter add's request id longer than 64 bytes or not
// printable ASCII.
var ErrBadID = errors.New(`"id" must be at most 64 printable ASCII characters`)

// setCounterRoutes adds the set and counter routes to mux.
func (s *server) setCounterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /set/{key}/add", s.setAdd)
	mux.HandleFunc("GET /set/{key}", s.setRead)
	mux.HandleFunc("POST /counter/{key}/add", s.counterAdd)
	mux.HandleFunc("GET /counter/{key}", s.counterRead)
}

func (s *server) setAdd(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.store.(SetStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: NoSets})
		return
	}
	var in struct {
		Element *string `json:"element"`
	}
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if in.Element == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body lacks "element"`})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if err := ss.SetAdd(ctx, r.PathValue("key"), *in.Element); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *server) setRead(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.store.(SetStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: NoSets})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	elems, err := ss.SetRead(ctx, r.PathValue("key"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if elems == nil {
		elems = []string{}
	}
	writeJSON(w, http.StatusOK, ElementsBody{Elements: elems})
}

func (s *server) counterAdd(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.store.(CounterStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: NoCounters})
		return
	}
	var in CounterAddBody
	if err := decodeBody(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	if in.Delta == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: `body lacks "delta" (an integer)`})
		return
	}
	if !idPattern.MatchString(in.ID) {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: ErrBadID.Error()})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	if err := cs.CounterAdd(ctx, r.PathValue("key"), *in.Delta, in.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *server) counterRead(w http.ResponseWriter, r *http.Request) {
	cs, ok := s.store.(CounterStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: NoCounters})
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	v, err := cs.CounterRead(ctx, r.PathValue("key"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CounterBody{Value: v})
}
