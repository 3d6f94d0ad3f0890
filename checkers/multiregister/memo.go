package multiregister

import (
	"sort"
	"strconv"
	"strings"
	"sync"
)

// memo numbers the distinct register states and remembers every step, as
// Knossos's memoized models do: porcupine then compares and hashes small
// integers instead of maps, and applies each txn to each state once. Its
// search revisits the same (state, txn) pairs many times when txns of
// unknown outcome are pending, which is where the time went.
type memo struct {
	mu         sync.Mutex // porcupine may search partitions in parallel
	nilUnknown bool
	states     []state
	ids        map[string]int
	steps      [][]int32 // [state][op] → next state + 1; 0: not yet known; -1: cannot take effect
}

func newMemo(nilUnknown bool) *memo {
	return &memo{nilUnknown: nilUnknown, ids: map[string]int{}}
}

// key is a canonical encoding of a state: keys sorted, lengths prefixed.
func key(s state) string {
	ks := make([]string, 0, len(s))
	for k := range s {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		for _, x := range []string{k, s[k]} {
			b.WriteString(strconv.Itoa(len(x)))
			b.WriteByte(':')
			b.WriteString(x)
		}
	}
	return b.String()
}

// id numbers a state; the caller holds mu or owns m.
func (m *memo) id(s state) int {
	k := key(s)
	if n, ok := m.ids[k]; ok {
		return n
	}
	m.states = append(m.states, s)
	m.steps = append(m.steps, nil)
	m.ids[k] = len(m.states) - 1
	return len(m.states) - 1
}

func (m *memo) state(n int) state {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.states[n]
}

func (m *memo) step(st int, in input, out output) (bool, interface{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	row := m.steps[st]
	if in.idx >= len(row) {
		row = append(row, make([]int32, in.idx+1-len(row))...)
		m.steps[st] = row
	}
	if row[in.idx] == 0 {
		legal, s := step(m.states[st], in, out, m.nilUnknown)
		row[in.idx] = -1
		if legal {
			row[in.idx] = int32(m.id(s)) + 1
		}
	}
	if next := row[in.idx]; next > 0 {
		return true, int(next - 1)
	}
	return false, st
}
