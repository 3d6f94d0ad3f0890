package report

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// timeline is the data the page's script draws the timeline from: one
// column per field (arrays of small integers compress and parse far better
// than 100,000 objects), times in µs, strings interned in tables. It is
// embedded with json.Marshal, which escapes <, > and &, so no history value
// can close the script element.
type timeline struct {
	Lanes  int               `json:"lanes"` // columns
	Fs     []string          `json:"fs"`
	Keys   []string          `json:"keys"`
	Nodes  []string          `json:"nodes"`
	P      []int             `json:"p"` // lane (column)
	Q      []int             `json:"q"` // process
	S      []int64           `json:"s"` // start µs
	D      []int64           `json:"d"` // duration µs (end - start): shorter than the end
	O      []int             `json:"o"` // 0 ok 1 fail 2 info 3 pending
	F      []int             `json:"f"`
	K      []int             `json:"k"` // -1 none
	V      []*string         `json:"v"`
	I      []int             `json:"i"`              // invocation index in the history
	J      []int             `json:"j"`              // completion index - invocation index; 0 pending
	N      []int             `json:"n"`              // node; -1 none
	From   map[int]string    `json:"from,omitempty"` // row -> cas expected value
	Err    map[int]int       `json:"err,omitempty"`  // row -> index in Errs
	Errs   []string          `json:"errs,omitempty"` // errors repeat (one per unreachable node): interned
	Faults []timelineFault   `json:"faults"`
	Colors map[string]string `json:"colors"`
	Tmax   int64             `json:"tmax"`
	Viol   *int64            `json:"viol"`
}

type timelineFault struct {
	fault
	Color string `json:"color"`
	Label string `json:"label"`
}

var outcomeCode = map[string]int{outOK: 0, outFail: 1, outInfo: 2, outPending: 3}

func timelineData(all []op, tmax int64, faults []fault, violation *int64) ([]byte, error) {
	lane, lanes := assignLanes(all)
	sorted := make([]op, len(all))
	copy(sorted, all)
	sort.SliceStable(sorted, func(i, j int) bool {
		li, lj := lane[sorted[i].Process], lane[sorted[j].Process]
		if li != lj {
			return li < lj
		}
		return sorted[i].Start < sorted[j].Start
	})
	n := len(sorted)
	t := timeline{Lanes: lanes, P: make([]int, n), Q: make([]int, n), S: make([]int64, n), D: make([]int64, n), O: make([]int, n),
		F: make([]int, n), K: make([]int, n), V: make([]*string, n), I: make([]int, n), J: make([]int, n),
		N: make([]int, n), From: map[int]string{}, Err: map[int]int{}, Colors: map[string]string{},
		Tmax: tmax / 1000}
	intern := func(tab *[]string, idx map[string]int, s string) int {
		if s == "" {
			return -1
		}
		if i, ok := idx[s]; ok {
			return i
		}
		idx[s] = len(*tab)
		*tab = append(*tab, s)
		return idx[s]
	}
	fIdx, kIdx, nIdx, eIdx := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for i, o := range sorted {
		t.P[i] = lane[o.Process]
		t.Q[i] = int(o.Process)
		t.S[i] = o.Start / 1000
		t.D[i] = o.End/1000 - t.S[i]
		t.O[i] = outcomeCode[o.Outcome]
		t.F[i] = intern(&t.Fs, fIdx, o.F)
		t.K[i] = intern(&t.Keys, kIdx, o.Key)
		t.V[i] = o.Value
		t.I[i] = o.Index
		if o.EndIndex >= 0 {
			t.J[i] = o.EndIndex - o.Index
		}
		t.N[i] = intern(&t.Nodes, nIdx, o.Node)
		if o.From != nil {
			t.From[i] = *o.From
		}
		if o.Error != "" {
			t.Err[i] = intern(&t.Errs, eIdx, o.Error)
		}
	}
	for _, f := range faults {
		t.Faults = append(t.Faults, timelineFault{fault: fault{Pkg: f.Pkg, Desc: f.Desc, Nodes: f.Nodes,
			Start: f.Start / 1000, End: f.End / 1000, Open: f.Open}, Color: faultColor(f.Pkg), Label: f.Label()})
		t.Colors[f.Pkg] = faultColor(f.Pkg)
	}
	if violation != nil {
		v := *violation / 1000
		t.Viol = &v
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode timeline: %w", err)
	}
	return b, nil
}

// assignLanes packs processes into columns: a process takes the first lane
// whose previous process finished before it started. A worker whose process
// is retired after an info op continues as a new process, so lanes come out
// about one per worker, and a long run with thousands of retired processes
// still fits on a screen (one column per process, as Jepsen draws it, would
// leave most columns empty at any moment).
func assignLanes(all []op) (map[harness.Process]int, int) {
	type span struct {
		p          harness.Process
		start, end int64
	}
	spans := map[harness.Process]*span{}
	for _, o := range all {
		s := spans[o.Process]
		if s == nil {
			spans[o.Process] = &span{p: o.Process, start: o.Start, end: o.End}
			continue
		}
		s.start, s.end = min(s.start, o.Start), max(s.end, o.End)
	}
	order := make([]*span, 0, len(spans))
	for _, s := range spans {
		order = append(order, s)
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].start != order[j].start {
			return order[i].start < order[j].start
		}
		return order[i].p < order[j].p
	})
	lane := make(map[harness.Process]int, len(order))
	var ends []int64
	for _, s := range order {
		l := -1
		for i, e := range ends {
			if e < s.start {
				l = i
				break
			}
		}
		if l < 0 {
			l = len(ends)
			ends = append(ends, 0)
		}
		ends[l] = s.end
		lane[s.p] = l
	}
	return lane, len(ends)
}
