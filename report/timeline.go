package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// timeline is what the page's script draws the timeline from. The ops are
// cut into chunks of about chunkOps by invocation time; each chunk is a
// packed binary columnar block (see encodeChunk and report.js's decodeChunk)
// that the page inflates only when the visible window reaches it, so a run
// of a million ops opens as fast as one of ten thousand. Ops that outlast
// the next chunk (info ops waiting out their timeout, ops that never
// completed) go into chunk 0, which is always loaded: every other chunk then
// ends before the one after next begins, and a window needs only the chunks
// it overlaps. The header is JSON, embedded with json.Marshal (which escapes
// <, > and &); the packed parts are base64, which has none of them.
type timeline struct {
	Lanes  int               `json:"lanes"` // columns
	N      int               `json:"n"`
	Tables string            `json:"tables"` // packed JSON of timelineTables
	Chunks []timelineChunk   `json:"chunks"`
	MedOK  int64             `json:"medok"` // median ok latency µs: the default zoom
	Faults []timelineFault   `json:"faults"`
	Colors map[string]string `json:"colors"`
	Tmax   int64             `json:"tmax"`
	Viol   *int64            `json:"viol"`
}

// timelineTables interns the strings that repeat across ops.
type timelineTables struct {
	Fs    []string `json:"fs"`
	Keys  []string `json:"keys"`
	Nodes []string `json:"nodes"`
	Errs  []string `json:"errs"` // errors repeat (one per unreachable node)
}

type timelineChunk struct {
	T0 int64  `json:"t0"` // earliest invocation, µs
	T1 int64  `json:"t1"` // latest completion, µs
	N  int    `json:"n"`
	I0 int    `json:"i0"` // history indices of its invocations and completions lie in [I0, I1]
	I1 int    `json:"i1"`
	Z  string `json:"z"`
}

type timelineFault struct {
	fault
	Color string `json:"color"`
	Label string `json:"label"`
}

var outcomeCode = map[string]int{outOK: 0, outFail: 1, outInfo: 2, outPending: 3}

// chunkOps is about how many ops one chunk holds: a few hundred KB to
// inflate and decode, a few ms in the page.
const chunkOps = 16384

// tlOp is an op with what the timeline adds to it.
type tlOp struct {
	*op
	lane   int
	newPrc bool // a new process takes over its lane here
}

func timelineData(all []op, tmax int64, faults []fault, violation *int64) ([]byte, error) {
	lane, lanes := assignLanes(all)
	t := timeline{Lanes: lanes, N: len(all), Colors: map[string]string{}, Tmax: tmax / 1000, MedOK: medianOK(all) / 1000}
	chunks := chunkOpsByTime(all, lane)
	tab := newInterner()
	for _, c := range chunks {
		z, err := packed(encodeChunk(c, lanes, tab))
		if err != nil {
			return nil, fmt.Errorf("encode timeline: %w", err)
		}
		tc := timelineChunk{N: len(c), Z: z, T0: math.MaxInt64, I0: math.MaxInt}
		for _, o := range c {
			tc.T0, tc.T1 = min(tc.T0, o.Start/1000), max(tc.T1, o.End/1000)
			tc.I0, tc.I1 = min(tc.I0, o.Index), max(tc.I1, o.Index, o.EndIndex)
		}
		if len(c) == 0 {
			tc.T0, tc.I0, tc.I1 = 0, 0, -1
		}
		t.Chunks = append(t.Chunks, tc)
	}
	tables, err := json.Marshal(tab.tables)
	if err != nil {
		return nil, fmt.Errorf("encode timeline: %w", err)
	}
	if t.Tables, err = packed(tables); err != nil {
		return nil, fmt.Errorf("encode timeline: %w", err)
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

// chunkOpsByTime returns chunk 0 (the long ops) and then the chunks in
// invocation order, each sorted by lane and then by invocation time.
func chunkOpsByTime(all []op, lane map[harness.Process]int) [][]tlOp {
	ops := make([]tlOp, len(all))
	for i := range all {
		ops[i] = tlOp{op: &all[i], lane: lane[all[i].Process]}
	}
	byStart := make([]int, len(ops))
	for i := range byStart {
		byStart[i] = i
	}
	sort.SliceStable(byStart, func(a, b int) bool { return ops[byStart[a]].Start < ops[byStart[b]].Start })
	nChunks := (len(ops) + chunkOps - 1) / chunkOps
	chunkOf := make([]int, len(ops))
	for rank, i := range byStart {
		c := rank / chunkOps
		// Long: it ends after the chunk after next begins.
		if next := (c + 2) * chunkOps; next < len(ops) && ops[i].End > ops[byStart[next]].Start {
			chunkOf[i] = 0
		} else {
			chunkOf[i] = c + 1
		}
	}
	order := make([]int, len(ops))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		oa, ob := ops[order[a]], ops[order[b]]
		if oa.lane != ob.lane {
			return oa.lane < ob.lane
		}
		return oa.Start < ob.Start
	})
	chunks := make([][]tlOp, nChunks+1)
	for r, i := range order {
		o := ops[i]
		o.newPrc = r == 0 || ops[order[r-1]].lane != o.lane || ops[order[r-1]].Process != o.Process
		chunks[chunkOf[i]] = append(chunks[chunkOf[i]], o)
	}
	return chunks
}

// interner numbers the strings of the tables, -1 for "".
type interner struct {
	tables timelineTables
	idx    [4]map[string]int
}

func newInterner() *interner {
	in := &interner{}
	for i := range in.idx {
		in.idx[i] = map[string]int{}
	}
	return in
}

func (in *interner) id(table int, s string) int {
	if s == "" {
		return -1
	}
	if i, ok := in.idx[table][s]; ok {
		return i
	}
	tab := [...]*[]string{&in.tables.Fs, &in.tables.Keys, &in.tables.Nodes, &in.tables.Errs}[table]
	in.idx[table][s] = len(*tab)
	*tab = append(*tab, s)
	return len(*tab) - 1
}

// encodeChunk writes a chunk's ops column by column: the count of ops of
// each lane, then process (change from the previous op), invocation time
// (after the lane's previous end), duration, outcome, function, key, node,
// invocation index (after the lane's previous completion), completion
// offset, new-process flag, error, value and cas expected value.
func encodeChunk(c []tlOp, lanes int, in *interner) []byte {
	var perLane, q, s, d, o, f, k, n, i, j, tag, e, v, from colWriter
	counts := make([]uint64, lanes)
	// Within a lane an op starts soon after the previous one ended, and is
	// invoked a few events after it completed: those gaps are what is
	// written, small numbers whatever the run's length.
	var prevQ, prevE, prevJ int64
	for r, op := range c {
		counts[op.lane]++
		if r == 0 || c[r-1].lane != op.lane {
			prevE, prevJ = 0, 0
		}
		start, end := op.Start/1000, max(op.End/1000, op.Start/1000)
		q.z(int64(op.Process) - prevQ)
		s.z(start - prevE)
		d.u(uint64(end - start))
		o.u(uint64(outcomeCode[op.Outcome]))
		f.u(uint64(in.id(0, op.F) + 1))
		k.u(uint64(in.id(1, op.Key) + 1))
		n.u(uint64(in.id(2, op.Node) + 1))
		i.z(int64(op.Index) - prevJ)
		last := op.Index // completion, or invocation when pending
		if op.EndIndex >= 0 {
			j.u(uint64(op.EndIndex - op.Index))
			last = op.EndIndex
		} else {
			j.u(0)
		}
		if op.newPrc {
			tag.u(1)
		} else {
			tag.u(0)
		}
		e.u(uint64(in.id(3, op.Error) + 1))
		v.str(op.Value)
		from.str(op.From)
		prevQ, prevE, prevJ = int64(op.Process), end, int64(last)
	}
	for _, cnt := range counts {
		perLane.u(cnt)
	}
	var out bytes.Buffer
	for _, col := range []*colWriter{&perLane, &q, &s, &d, &o, &f, &k, &n, &i, &j, &tag, &e, &v, &from} {
		out.Write(col.Bytes())
	}
	return out.Bytes()
}

// medianOK is the median latency of ok ops (ns), or 0.
func medianOK(all []op) int64 {
	var ls []int64
	step := max(1, len(all)/5000)
	for i := 0; i < len(all); i += step {
		if all[i].Outcome == outOK {
			ls = append(ls, all[i].Latency())
		}
	}
	if len(ls) == 0 {
		return 0
	}
	slices.Sort(ls)
	return ls[len(ls)/2]
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
