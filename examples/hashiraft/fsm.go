package hashiraft

import (
	"encoding/json"
	"errors"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// command is one replicated change.
type command struct {
	Op    string `json:"op"` // put | cas
	Key   string `json:"key"`
	Value string `json:"value"`
	From  string `json:"from,omitempty"`
}

// casResult is what a cas did.
type casResult struct {
	OK    bool
	Value string
	Found bool
}

// fsm is the replicated map.
type fsm struct {
	mu sync.Mutex
	kv map[string]string
}

func newFSM() *fsm { return &fsm{kv: map[string]string{}} }

func (f *fsm) Apply(l *raft.Log) any {
	var c command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Op {
	case "put":
		f.kv[c.Key] = c.Value
		return nil
	case "cas":
		v, ok := f.kv[c.Key]
		if !ok || v != c.From {
			return casResult{Value: v, Found: ok}
		}
		f.kv[c.Key] = c.Value
		return casResult{OK: true, Value: c.Value, Found: true}
	}
	return errors.New("unknown op " + c.Op)
}

func (f *fsm) get(key string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.kv[key]
	return v, ok
}

// Snapshot and Restore exist for raft's interface; the node never takes a
// snapshot (see serve).
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.kv)
	return snapshot(b), err
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	kv := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&kv); err != nil {
		return err
	}
	f.mu.Lock()
	f.kv = kv
	f.mu.Unlock()
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s snapshot) Release() {}
