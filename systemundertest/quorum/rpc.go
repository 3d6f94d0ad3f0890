package quorum

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
)

// Peer RPCs are JSON over HTTP under /internal/quorum/:
//
//	POST /internal/quorum/get     {"key"}                -> {"found","value","ver"}
//	POST /internal/quorum/put     {"key","value","ver"}  -> 200 once durable
//	POST /internal/quorum/repair  (no body)              -> RepairResult
//
// get and put are replica operations on this node's own data; repair makes
// this node coordinate an anti-entropy pass (see Store.Repair).

// RepairRoute is the path the harness POSTs to for anti-entropy.
const RepairRoute = "/internal/quorum/repair"

type getReq struct {
	Key string `json:"key"`
}

type getResp struct {
	Found bool    `json:"found"`
	Value string  `json:"value,omitempty"`
	Ver   Version `json:"ver"`
}

type putReq struct {
	Key   string  `json:"key"`
	Value string  `json:"value"`
	Ver   Version `json:"ver"`
}

// errNotSent marks a peer request that provably never reached the peer.
var errNotSent = errors.New("request not sent")

func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, errNotSent)
}

// Handler serves the peer RPCs. It answers whether it is mounted at
// /internal/ with or without the prefix stripped: it dispatches on the last
// path element after "quorum/".
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		i := strings.LastIndex(req.URL.Path, "quorum/")
		if i < 0 || req.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		switch req.URL.Path[i+len("quorum/"):] {
		case "get":
			var in getReq
			if !decode(w, req, &in) {
				return
			}
			if s.closed.Load() {
				http.Error(w, "closed", http.StatusServiceUnavailable)
				return
			}
			e, ok := s.rep.get(in.Key)
			writeJSON(w, http.StatusOK, getResp{Found: ok, Value: e.Value, Ver: e.Ver})
		case "put":
			var in putReq
			if !decode(w, req, &in) {
				return
			}
			if err := s.localPut(entry{Key: in.Key, Value: in.Value, Ver: in.Ver}); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		case "incr": // crdt.go
			var in incrReq
			if !decode(w, req, &in) {
				return
			}
			v, err := s.localIncr(in)
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			writeJSON(w, http.StatusOK, getResp{Found: true, Value: v})
		case "repair":
			res, err := s.Repair(req.Context())
			code := http.StatusOK
			if err != nil {
				code = http.StatusServiceUnavailable
			}
			writeJSON(w, code, res)
		default:
			http.Error(w, "not found", http.StatusNotFound)
		}
	})
}

func decode(w http.ResponseWriter, req *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(req.Body, 64<<20)).Decode(v); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the peer sees a short body as an error
}

// call performs one peer RPC. Calls to this node itself skip the network.
func (s *Store) call(ctx context.Context, id, route string, in, out any) error {
	if id == s.cfg.ID {
		switch route {
		case "get":
			e, ok := s.rep.get(in.(getReq).Key)
			*out.(*getResp) = getResp{Found: ok, Value: e.Value, Ver: e.Ver}
			return nil
		case "put":
			p := in.(putReq)
			return s.localPut(entry{Key: p.Key, Value: p.Value, Ver: p.Ver})
		case "incr":
			v, err := s.localIncr(in.(incrReq))
			*out.(*getResp) = getResp{Found: true, Value: v}
			return err
		}
	}
	addr, ok := s.cfg.Peers[id]
	if !ok {
		return fmt.Errorf("peer %s: no address: %w", id, errNotSent)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("peer %s: encode: %w", id, errNotSent)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/internal/quorum/"+route, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("peer %s: %v: %w", id, err, errNotSent)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("peer %s %s: %w", id, route, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("peer %s %s: read response: %w", id, route, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("peer %s %s: %s: %s", id, route, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("peer %s %s: decode: %w", id, route, err)
		}
	}
	return nil
}

// RepairAt asks the node serving at addr (host:port, its client address) to
// run Repair, as the harness does on every node in the recovery phase. An
// error wraps the node's RepairResult when some keys could not be repaired.
func RepairAt(ctx context.Context, hc *http.Client, addr string) (RepairResult, error) {
	var res RepairResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+RepairRoute, nil)
	if err != nil {
		return res, fmt.Errorf("repair %s: %w", addr, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return res, fmt.Errorf("repair %s: %w", addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return res, fmt.Errorf("repair %s: read response: %w", addr, err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("repair %s: %s: %s", addr, resp.Status, bytes.TrimSpace(data))
	}
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("repair %s: %s: %d of %d keys failed: %v", addr, resp.Status, res.Failed, res.Keys, res.Errors)
	}
	return res, nil
}
