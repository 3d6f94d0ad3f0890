package report

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	h "github.com/gauntlet-dev/gauntlet/harness"
)

// Run directories for the tests, written with the harness types the runner
// uses. Background traffic is linearizable by construction: every op takes
// effect at a random instant inside its interval and reads return what the
// register held at theirs. Scripted ops add the anomalies.

const xss = `</script><script>alert(1)</script>`

type fixture struct {
	name      string
	ops       int // background client ops to generate
	duration  time.Duration
	procs     int
	keys      int
	staleRead bool   // script a stale read of k3 during a partition of n3
	evilKey   string // script a stale read of this key (and use it as a value)
	faults    []scriptedFault
	start     time.Time // zero: fixtureStart
}

type scriptedFault struct {
	pkg, desc, nodes string
	start, end       time.Duration
}

type event struct {
	op h.Op
	at int64
}

var fixtureStart = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func defaultFaults() []scriptedFault {
	return []scriptedFault{
		{"partition", "isolate n3: {n1,n2,n4,n5} | {n3}", "n1,n2,n3,n4,n5", 5 * time.Second, 10 * time.Second},
		{"kill", "kill n2", "n2", 13 * time.Second, 15 * time.Second},
		{"pause", "pause n4", "n4", 16 * time.Second, 17500 * time.Millisecond},
	}
}

// writeFixture writes config.json, history.jsonl, results.json, digests.json
// and node logs for f under dir, and returns the run directory.
func writeFixture(t testing.TB, dir string, f fixture) string {
	t.Helper()
	start := f.start
	if start.IsZero() {
		start = fixtureStart
	}
	test := h.Test{Name: f.name, System: "raft", Deploy: "local", Workload: "kv",
		Nemesis: []string{"partition", "kill", "pause"}, Nodes: 5, Concurrency: f.procs,
		TimeLimit: h.Duration(f.duration), Seed: 42, Out: dir}.WithDefaults()
	if f.staleRead {
		test.Bug = "stale-read"
	}
	if f.evilKey != "" {
		test.Bug = xss
		test.Options = map[string]string{"evil": xss}
	}
	runDir := filepath.Join(dir, test.Name, start.Format("20060102T150405Z"))
	require.NoError(t, os.MkdirAll(runDir, 0o755))

	w := &fixtureWriter{f: f, rng: rand.New(rand.NewSource(42))}
	w.background()
	if f.staleRead {
		w.script("k3", "7", "9")
	}
	if f.evilKey != "" {
		w.script(f.evilKey, xss, "<img src=x onerror=alert(2)>")
	}
	w.faults()
	hist := w.writeHistory(t, runDir)
	w.writeResults(t, runDir, test, start, hist)
	writeNodeLogs(t, runDir, f, start)
	return runDir
}

var fixtureNodes = []string{"n1", "n2", "n3", "n4", "n5"}

// fixtureWriter collects a fixture's history events and anomalies.
type fixtureWriter struct {
	f              fixture
	rng            *rand.Rand
	evs            []event
	nextProc       int
	anomalies      []h.Anomaly
	firstViolation *int64
}

func (w *fixtureWriter) add(o h.Op) { w.evs = append(w.evs, event{op: o, at: o.Time}) }

// background generates the linearizable traffic: each op takes effect at
// a random instant inside its interval, reads see what the register held.
func (w *fixtureWriter) background() {
	f, rng := w.f, w.rng
	reserved := map[string]bool{"k3": true}
	type lp struct {
		at    int64
		key   string
		write *string
		read  int // index in evs of a read completion to fill; -1 for writes
	}
	var points []lp
	perProc := max(1, f.ops/f.procs)
	step := int64(f.duration) / int64(perProc)
	w.nextProc = f.procs
	valueSeq := 0
	for p := 0; p < f.procs; p++ {
		proc := h.Process(p)
		tm := int64(rng.Intn(int(max(step, 1))))
		for i := 0; i < perProc; i++ {
			lat := step/2 + rng.Int63n(max(step*6/10, 1))
			key := fmt.Sprintf("k%d", rng.Intn(f.keys))
			for reserved[key] {
				key = fmt.Sprintf("k%d", rng.Intn(f.keys))
			}
			inv := h.Op{Process: proc, Type: h.Invoke, Key: key, Time: tm, Node: fixtureNodes[rng.Intn(len(fixtureNodes))]}
			comp := inv
			comp.Time = tm + lat
			roll := rng.Intn(100)
			switch {
			case roll < 50:
				inv.F, comp.F = h.FRead, h.FRead
				comp.Type = h.OK
			case roll < 95:
				valueSeq++
				v := h.Str(fmt.Sprint(valueSeq))
				inv.F, comp.F, inv.Value, comp.Value = h.FWrite, h.FWrite, v, v
				comp.Type = h.OK
			case roll < 98:
				inv.F, comp.F = h.FRead, h.FRead
				comp.Type, comp.Error = h.Fail, "timeout"
			default:
				valueSeq++
				v := h.Str(fmt.Sprint(valueSeq))
				inv.F, comp.F, inv.Value, comp.Value = h.FWrite, h.FWrite, v, v
				comp.Type, comp.Error = h.Info, "timeout after send"
			}
			at := tm + rng.Int63n(lat+1)
			switch {
			case comp.F == h.FWrite && (comp.Type == h.OK || rng.Intn(2) == 0):
				points = append(points, lp{at: at, key: key, write: comp.Value, read: -1})
			case comp.F == h.FRead && comp.Type == h.OK:
				points = append(points, lp{at: at, key: key, read: len(w.evs) + 1})
			}
			w.add(inv)
			w.add(comp)
			tm = comp.Time + rng.Int63n(max(step/5, 1))
			if comp.Type == h.Info {
				proc = h.Process(w.nextProc)
				w.nextProc++
			}
		}
	}
	// Reads see what the register held at their linearization points.
	sort.Slice(points, func(i, j int) bool { return points[i].at < points[j].at })
	state := map[string]*string{}
	for _, p := range points {
		if p.write != nil {
			state[p.key] = p.write
		} else if v := state[p.key]; v != nil {
			w.evs[p.read].op.Value = h.Str(*v)
		}
	}
}

// script adds a stale read of key: it returns old after newV was written.
func (w *fixtureWriter) script(key, old, newV string) {
	p1, p2 := h.Process(w.nextProc), h.Process(w.nextProc+1)
	w.nextProc += 2
	ms := func(x float64) int64 { return int64(x * float64(time.Millisecond)) }
	w7 := h.Op{Process: p1, Type: h.Invoke, F: h.FWrite, Key: key, Value: h.Str(old), Time: ms(3000), Node: "n1"}
	w7ok := w7
	w7ok.Type, w7ok.Time = h.OK, ms(3012)
	w9 := h.Op{Process: p1, Type: h.Invoke, F: h.FWrite, Key: key, Value: h.Str(newV), Time: ms(6050), Node: "n1"}
	w9ok := w9
	w9ok.Type, w9ok.Time = h.OK, ms(6100)
	r := h.Op{Process: p2, Type: h.Invoke, F: h.FRead, Key: key, Time: ms(6250), Node: "n3"}
	rok := r
	rok.Type, rok.Time, rok.Value = h.OK, ms(6310), h.Str(old)
	for _, o := range []h.Op{w7, w7ok, w9, w9ok, r, rok} {
		w.add(o)
	}
	w.anomalies = append(w.anomalies, h.Anomaly{Checker: linearizable.Name, Key: key, Time: rok.Time,
		Explanation: fmt.Sprintf("read of %s returned %s at %.2f s, but write %s=%s had completed at %.2f s and nothing wrote %s after it",
			key, old, float64(rok.Time)/1e9, key, newV, float64(w9ok.Time)/1e9, old),
		Ops: []h.Op{r, rok}, Window: []h.Op{w7, w7ok, w9, w9ok, r, rok}})
	t := rok.Time
	w.firstViolation = &t
}

// faults adds each scripted fault as the runner records it: invocation and
// completion of its start and of its stop.
func (w *fixtureWriter) faults() {
	for _, ft := range w.f.faults {
		desc := ft.desc
		w.add(h.Op{Process: h.NemesisProcess, Type: h.Info, F: "start-" + ft.pkg, Time: int64(ft.start)})
		w.add(h.Op{Process: h.NemesisProcess, Type: h.Info, F: "start-" + ft.pkg, Value: &desc, Node: ft.nodes, Time: int64(ft.start) + 2e6})
		w.add(h.Op{Process: h.NemesisProcess, Type: h.Info, F: "stop-" + ft.pkg, Time: int64(ft.end)})
		w.add(h.Op{Process: h.NemesisProcess, Type: h.Info, F: "stop-" + ft.pkg, Value: h.Str("healed"), Node: ft.nodes, Time: int64(ft.end) + 1e6})
	}
}

// writeHistory orders and numbers the events, writes history.jsonl and
// gives the anomalies' ops the indices they got.
func (w *fixtureWriter) writeHistory(t testing.TB, runDir string) h.History {
	evs := w.evs
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	var b strings.Builder
	hist := make(h.History, len(evs))
	for i, e := range evs {
		e.op.Index = i
		hist[i] = e.op
		line, err := e.op.MarshalLine()
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	idx := map[[3]int64]int{}
	for _, o := range hist {
		idx[[3]int64{int64(o.Process), o.Time, int64(len(o.Type))}] = o.Index
	}
	for ai := range w.anomalies {
		for _, l := range [][]h.Op{w.anomalies[ai].Ops, w.anomalies[ai].Window} {
			for i := range l {
				l[i].Index = idx[[3]int64{int64(l[i].Process), l[i].Time, int64(len(l[i].Type))}]
			}
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(runDir, h.HistoryFile), []byte(b.String()), 0o644))
	return hist
}

func (w *fixtureWriter) writeResults(t testing.TB, runDir string, test h.Test, start time.Time, hist h.History) {
	f := w.f
	verdict := h.Valid
	lin := h.Result{Checker: linearizable.Name, View: linearizable.View, Validity: h.Valid, Summary: fmt.Sprintf("%d keys linearizable", f.keys)}
	if len(w.anomalies) > 0 {
		verdict = h.Invalid
		lin = h.Result{Checker: linearizable.Name, View: linearizable.View, Validity: h.Invalid, Summary: fmt.Sprintf("%d of %d keys not linearizable", len(w.anomalies), f.keys),
			Anomalies: w.anomalies, Artifacts: []string{"linearizability.html"}}
		require.NoError(t, os.WriteFile(filepath.Join(runDir, "linearizability.html"), []byte("<!doctype html><p>porcupine</p>"), 0o644))
	}
	details, _ := json.Marshal(map[string]any{"keys": f.keys, "note": xss})
	digests := make([]h.Digest, len(fixtureNodes))
	for i, n := range fixtureNodes {
		digests[i] = h.Digest{Node: n, Digest: "a1b2c3", Applied: 1234, Keys: f.keys}
	}
	// The run began with 5 s of setup before test time 0, as the runner records it.
	setup := 5 * time.Second
	res := h.Results{Test: test, Verdict: verdict, Start: start.Add(-setup),
		Phases: []h.Phase{{Name: "setup", Start: -int64(setup), Duration: h.Duration(setup)},
			{Name: "main", Start: 0, Duration: h.Duration(f.duration)}},
		Duration: h.Duration(f.duration + 5*time.Second),
		TestTime: h.Duration(f.duration), Ops: len(hist.Pairs()), FirstViolation: w.firstViolation, Command: test.CommandLine(),
		Digests: digests,
		Checkers: []h.Result{lin,
			{Checker: "stats", Validity: h.Valid, Summary: "most ops succeeded", Details: details},
			{Checker: "convergence", Validity: h.Valid, Summary: "5 nodes agree"}}}
	writeJSON(t, filepath.Join(runDir, h.ResultsFile), res)
	writeJSON(t, filepath.Join(runDir, h.ConfigFile), test)
	writeJSON(t, filepath.Join(runDir, h.DigestsFile), digests)
}

// writeNodeLogs writes a line every 250 ms per node, and n3's warning at
// the stale read.
func writeNodeLogs(t testing.TB, runDir string, f fixture, start time.Time) {
	for _, n := range fixtureNodes {
		require.NoError(t, os.MkdirAll(filepath.Join(runDir, h.NodesDir, n), 0o755))
		var lb strings.Builder
		for ms := 0; ms < int(f.duration/time.Millisecond); ms += 250 {
			ts := start.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano)
			fmt.Fprintf(&lb, "time=%s level=INFO msg=\"applied entries\" node=%s commit=%d\n", ts, n, ms)
			if n == "n3" && ms == 6250 {
				fmt.Fprintf(&lb, "time=%s level=WARN msg=\"serving read locally\" node=n3 key=%q\n", ts, f.evilKey+"k3")
			}
		}
		require.NoError(t, os.WriteFile(filepath.Join(runDir, h.NodesDir, n, "kvnode.log"), []byte(lb.String()), 0o644))
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}

func invalidFixture() fixture {
	return fixture{name: "raft-stale-read-kv-partition", ops: 2000, duration: 20 * time.Second, procs: 8, keys: 10,
		staleRead: true, faults: defaultFaults()}
}

func validFixture() fixture {
	return fixture{name: "raft-kv-partition", ops: 2000, duration: 20 * time.Second, procs: 8, keys: 10, faults: defaultFaults()}
}

func evilFixture() fixture {
	return fixture{name: "evil", ops: 300, duration: 20 * time.Second, procs: 4, keys: 5, evilKey: xss,
		faults: []scriptedFault{{"partition", xss, xss, 5 * time.Second, 10 * time.Second}}}
}

func bigFixture() fixture {
	var fs []scriptedFault
	for s := 5; s < 55; s += 10 {
		fs = append(fs, scriptedFault{"partition", "random halves {n1,n2} | {n3,n4,n5}", "n1,n2,n3,n4,n5",
			time.Duration(s) * time.Second, time.Duration(s+5) * time.Second})
	}
	fs = append(fs, scriptedFault{"kill", "kill n1", "n1", 22 * time.Second, 24 * time.Second})
	return fixture{name: "big", ops: 100000, duration: 60 * time.Second, procs: 10, keys: 1000, faults: fs}
}
