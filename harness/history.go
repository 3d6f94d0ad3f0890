package harness

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// History is a sequence of ops in real-time order (by Index).
type History []Op

// Pair is an invocation and its completion. Completion is nil when the
// history ended before the op completed (treat as info).
type Pair struct {
	Invoke     Op
	Completion *Op
}

// Pairs matches every client invocation with its completion, in invocation
// order. Nemesis ops are skipped. Since every process has at most one op
// outstanding, the next op of the same process completes the invocation.
func (h History) Pairs() []Pair {
	open := map[Process]int{}
	var pairs []Pair
	for _, op := range h {
		if op.IsNemesis() {
			continue
		}
		if op.Type == Invoke {
			open[op.Process] = len(pairs)
			pairs = append(pairs, Pair{Invoke: op})
			continue
		}
		if i, ok := open[op.Process]; ok {
			c := op
			pairs[i].Completion = &c
			delete(open, op.Process)
		}
	}
	return pairs
}

// Client returns the client ops (no nemesis).
func (h History) Client() History {
	var out History
	for _, op := range h {
		if !op.IsNemesis() {
			out = append(out, op)
		}
	}
	return out
}

// NemesisOps returns the fault operations.
func (h History) NemesisOps() History {
	var out History
	for _, op := range h {
		if op.IsNemesis() {
			out = append(out, op)
		}
	}
	return out
}

// SyntaxError is a malformed history line. Callers exit with code 64.
type SyntaxError struct {
	File string
	Line int
	Err  error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d: malformed history line: %v (want one JSON op per line, as gauntlet writes)", e.File, e.Line, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// ReadHistory reads a history.jsonl. A torn last line (the harness was killed
// mid-write) is dropped silently; a malformed line elsewhere is a *SyntaxError.
func ReadHistory(path string) (History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeHistory(f, path)
}

// DecodeHistory is ReadHistory over a reader; name is used in errors.
func DecodeHistory(r io.Reader, name string) (History, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var h History
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			complete := b[len(b)-1] == '\n'
			trimmed := trimSpace(b)
			if len(trimmed) > 0 {
				var op Op
				if uerr := json.Unmarshal(trimmed, &op); uerr != nil {
					if !complete && errors.Is(err, io.EOF) {
						break // torn tail
					}
					return h, &SyntaxError{File: name, Line: line, Err: uerr}
				}
				if verr := op.validate(); verr != nil {
					return h, &SyntaxError{File: name, Line: line, Err: verr}
				}
				h = append(h, op)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return h, err
		}
	}
	sort.SliceStable(h, func(i, j int) bool { return h[i].Index < h[j].Index })
	return h, nil
}

func (o Op) validate() error {
	switch o.Type {
	case Invoke, OK, Fail, Info:
	default:
		return fmt.Errorf("type %q is not one of invoke, ok, fail, info", o.Type)
	}
	if o.F == "" {
		return errors.New(`missing "f"`)
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}
