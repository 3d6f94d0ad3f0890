package hashiraft

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// api serves Gauntlet's KV wire protocol, version 1 (docs/protocol.md):
// GET and PUT /kv/{key}, POST /kv/{key}/cas, GET /debug/status. Only the
// leader serves; a follower answers 503 (nothing was applied), so clients
// of a follower fail cleanly.
type api struct {
	id    string
	r     *raft.Raft
	fsm   *fsm
	stale bool
}

const applyTimeout = time.Second

func (a *api) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/debug/status" {
		a.status(w)
		return
	}
	key, ok := strings.CutPrefix(req.URL.Path, "/kv/")
	if !ok || key == "" {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such route"})
		return
	}
	key, isCAS := strings.CutSuffix(key, "/cas")
	switch {
	case req.Method == http.MethodGet && !isCAS:
		a.read(w, key)
	case req.Method == http.MethodPut && !isCAS:
		var in struct{ Value string }
		if json.NewDecoder(req.Body).Decode(&in) != nil {
			reply(w, http.StatusBadRequest, map[string]string{"error": "want {\"value\": …}"})
			return
		}
		a.apply(w, command{Op: "put", Key: key, Value: in.Value})
	case req.Method == http.MethodPost && isCAS:
		var in struct{ From, To string }
		if json.NewDecoder(req.Body).Decode(&in) != nil {
			reply(w, http.StatusBadRequest, map[string]string{"error": "want {\"from\": …, \"to\": …}"})
			return
		}
		a.apply(w, command{Op: "cas", Key: key, From: in.From, Value: in.To})
	default:
		reply(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
	}
}

// read is linearizable through a barrier on the leader: the barrier is an
// entry of the log, so once it is applied this node led when it committed
// and its state machine holds everything committed before the read began.
// With --stale-reads any node answers from its own state machine at once.
func (a *api) read(w http.ResponseWriter, key string) {
	if !a.stale {
		if a.r.State() != raft.Leader {
			reply(w, http.StatusServiceUnavailable, map[string]string{"error": "not the leader"})
			return
		}
		if err := a.r.Barrier(applyTimeout).Error(); err != nil {
			reply(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
	}
	v, found := a.fsm.get(key)
	reply(w, http.StatusOK, map[string]any{"value": v, "found": found})
}

func (a *api) apply(w http.ResponseWriter, c command) {
	if a.r.State() != raft.Leader {
		reply(w, http.StatusServiceUnavailable, map[string]string{"error": "not the leader"})
		return
	}
	b, _ := json.Marshal(c)
	f := a.r.Apply(b, applyTimeout)
	if err := f.Error(); err != nil {
		code := http.StatusGatewayTimeout // it may still commit
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout) {
			code = http.StatusServiceUnavailable // never entered the log
		}
		reply(w, code, map[string]string{"error": err.Error()})
		return
	}
	switch res := f.Response().(type) {
	case error:
		reply(w, http.StatusBadRequest, map[string]string{"error": res.Error()})
	case casResult:
		code := http.StatusOK
		if !res.OK {
			code = http.StatusConflict
		}
		reply(w, code, map[string]any{"ok": res.OK, "value": res.Value, "found": res.Found})
	default:
		reply(w, http.StatusOK, map[string]any{})
	}
}

func (a *api) status(w http.ResponseWriter) {
	_, leader := a.r.LeaderWithID()
	stats := a.r.Stats()
	term, _ := strconv.ParseUint(stats["term"], 10, 64)
	commit, _ := strconv.ParseUint(stats["commit_index"], 10, 64)
	reply(w, http.StatusOK, map[string]any{"id": a.id, "role": strings.ToLower(a.r.State().String()),
		"leader": string(leader), "term": term, "commit": commit, "applied": a.r.AppliedIndex()})
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
