// Command txnbench measures the isolation checker on generated histories
// of a correct store (checkers/isolation/txnsim: concurrent clients, 1% info
// and 1% failed transactions, 10 keys in use, each retired after 32
// writes): transactions per second, time, CPU time and peak RSS, for 100k
// and 1M transactions, 10 and 50 clients, list-append and rw-register; and
// one broken history (1% of reads stale), whose anomalies must be found
// and explained in time too. `make bench` runs it.
//
// Each check runs in a child process of its own, so peak RSS is that
// check's (the kernel's maximum resident set, as /usr/bin/time -v prints
// it). Two ways to check: "file" streams history.jsonl through the checker
// (what `gauntlet check` of a large run needs: the history is never held
// whole); "memory" reads it into a harness.History first, as a live run
// holds it, and times the check alone.
//
//	go run ./internal/txnbench [-shapes la-100k-c10,…] [-modes file,memory] [-dir DIR]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gauntlet-dev/gauntlet/checkers/isolation"
	"github.com/gauntlet-dev/gauntlet/checkers/isolation/txnsim"
	"github.com/gauntlet-dev/gauntlet/harness"
)

type shape struct {
	name    string
	model   isolation.Model
	txns    int
	clients int
	stale   float64 // share of stale reads: a broken store, an invalid history
}

var shapes = []shape{
	{"la-100k-c10", isolation.ListAppend, 100_000, 10, 0},
	{"la-100k-c50", isolation.ListAppend, 100_000, 50, 0},
	{"la-1m-c10", isolation.ListAppend, 1_000_000, 10, 0},
	{"la-1m-c50", isolation.ListAppend, 1_000_000, 50, 0},
	{"rw-100k-c10", isolation.RWRegister, 100_000, 10, 0},
	{"rw-1m-c10", isolation.RWRegister, 1_000_000, 10, 0},
	{"la-1m-c10-stale", isolation.ListAppend, 1_000_000, 10, 0.01},
}

type result struct {
	Shape    string  `json:"shape"`
	Mode     string  `json:"mode"`
	Txns     int     `json:"txns"`
	Verdict  string  `json:"verdict"`
	ReadS    float64 `json:"read_s"`  // memory mode: reading the history
	CheckS   float64 `json:"check_s"` // the check (file mode: reading included)
	Note     string  `json:"note,omitempty"`
	CPU      float64 `json:"-"`
	MaxRSSMB float64 `json:"-"`
}

func main() {
	child := flag.Bool("child", false, "run one check and print its result as JSON (used by the parent)")
	only := flag.String("shapes", "", "comma-separated shapes (default all): "+names())
	modes := flag.String("modes", "file,memory", "file (stream history.jsonl through the checker), memory (read it whole, then check)")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "gauntlet-txnbench"), "where generated histories are kept between runs")
	memMax := flag.Int("memory-max", 100_000, "memory mode only for shapes up to this many transactions (a million as a harness.History take gigabytes)")
	shapeName := flag.String("shape", "", "the child's shape")
	mode := flag.String("mode", "", "the child's mode")
	cpuProfile := flag.String("cpuprofile", "", "with -child: write the check's CPU profile here (go tool pprof)")
	generate := flag.Bool("generate", false, "only generate the histories (kept in -dir), measure nothing")
	flag.Parse()
	if *child {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err == nil {
				_ = pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
		}
		r, err := runChild(*shapeName, *mode, *dir)
		if err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, "txnbench:", err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	var rows []result
	for _, s := range shapes {
		if *only != "" && !contains(strings.Split(*only, ","), s.name) {
			continue
		}
		if err := ensure(s, *dir); err != nil {
			fmt.Fprintln(os.Stderr, "txnbench:", err)
			os.Exit(1)
		}
		if *generate {
			continue
		}
		for _, m := range strings.Split(*modes, ",") {
			if m == "memory" && s.txns > *memMax {
				continue
			}
			r := runParent(s, m, *dir)
			fmt.Fprintf(os.Stderr, "%-12s %-6s %-8s %7.2f s  %9.0f txn/s  cpu %6.2f s  peak %5.0f MB  (load %s) %s\n",
				r.Shape, r.Mode, r.Verdict, r.CheckS, float64(r.Txns)/r.CheckS, r.CPU, r.MaxRSSMB, loadAvg(), r.Note)
			rows = append(rows, r)
		}
	}
	if !*generate {
		printTable(rows)
	}
}

func names() string {
	var n []string
	for _, s := range shapes {
		n = append(n, s.name)
	}
	return strings.Join(n, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func path(s shape, dir string) string { return filepath.Join(dir, s.name+".jsonl") }

// ensure generates a shape's history once.
func ensure(s shape, dir string) error {
	p := path(s, dir)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generating %s (%d transactions, %d clients) in %s\n", s.name, s.txns, s.clients, p)
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cfg := txnsim.Config{ListAppend: s.model == isolation.ListAppend, Clients: s.clients, Total: s.txns, InfoRate: 0.01, FailRate: 0.01, StaleRate: s.stale}
	err = txnsim.Simulate(rand.New(rand.NewSource(1)), cfg, func(op harness.Op) error {
		b, err := op.MarshalLine()
		if err != nil {
			return err
		}
		w.Write(b)
		return w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func runParent(s shape, mode, dir string) result {
	r := result{Shape: s.name, Mode: mode, Txns: s.txns}
	self, err := os.Executable()
	if err != nil {
		r.Verdict, r.Note = "error", err.Error()
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-child", "-shape", s.name, "-mode", mode, "-dir", dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		r.Verdict, r.Note = "error", strings.TrimSpace(fmt.Sprint(runErr, " ", errb.String()))
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSMB = float64(ru.Maxrss) / 1024
			r.CPU = tv(ru.Utime) + tv(ru.Stime)
		}
	}
	return r
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func runChild(name, mode, dir string) (result, error) {
	var s shape
	for _, x := range shapes {
		if x.name == name {
			s = x
		}
	}
	if s.name == "" {
		return result{}, fmt.Errorf("unknown shape %q", name)
	}
	r := result{Shape: s.name, Mode: mode, Txns: s.txns}
	c := isolation.New(isolation.Options{Model: s.model})
	var res harness.Result
	switch mode {
	case "file":
		start := time.Now()
		var err error
		if res, err = c.CheckFile(context.Background(), path(s, dir)); err != nil {
			return r, err
		}
		r.CheckS = time.Since(start).Seconds()
	case "memory":
		start := time.Now()
		h, err := harness.ReadHistory(path(s, dir))
		if err != nil {
			return r, err
		}
		r.ReadS = time.Since(start).Seconds()
		runtime.GC()
		start = time.Now()
		res = c.Check(context.Background(), harness.CheckInput{History: h})
		r.CheckS = time.Since(start).Seconds()
		runtime.KeepAlive(h)
	default:
		return r, fmt.Errorf("unknown mode %q: want file or memory", mode)
	}
	r.Verdict = string(res.Validity)
	if res.Validity != harness.Valid {
		r.Note = firstOf(res.Summary, 160)
	}
	return r, nil
}

func firstOf(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func loadAvg() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	return strings.Join(f[:min(3, len(f))], " ")
}

func printTable(rows []result) {
	fmt.Printf("\nThe isolation checker on histories of a correct store (txnsim), load average %s, %d CPUs\n", loadAvg(), runtime.NumCPU())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shape\tmode\ttransactions\tverdict\tcheck time\ttxn/s\tCPU time\ttxn per CPU s\tpeak RSS\treading the history\t")
	for _, r := range rows {
		read := "-"
		if r.Mode == "memory" {
			read = fmt.Sprintf("%.2f s", r.ReadS)
		}
		perCPU := fmt.Sprintf("%.0f", float64(r.Txns)/r.CPU)
		if r.Mode == "memory" {
			perCPU = "-" // the child's CPU time includes reading the history
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.2f s\t%.0f\t%.2f s\t%s\t%.0f MB\t%s\t\n", r.Shape, r.Mode, r.Txns, r.Verdict, r.CheckS,
			float64(r.Txns)/r.CheckS, r.CPU, perCPU, r.MaxRSSMB, read)
	}
	tw.Flush()
	for _, r := range rows {
		if r.Note != "" {
			fmt.Printf("%s %s: %s\n", r.Shape, r.Mode, r.Note)
		}
	}
	fmt.Println(`
file: history.jsonl streamed through the checker (reading and decoding included); memory: the check of a
harness.History already in memory (a live run's case), its peak RSS including the history. CPU time is the
child's user+system time (the collector runs beside the check; in memory mode it includes reading the history
with encoding/json): on a busy machine it is the steadier measure.
Elle's published anchors (Jepsen, on a large multicore machine): 100-160k transactions/s; about two minutes
and ~60 GB of heap for 22 million transactions. Elle itself cannot be run here (no Clojars or Maven Central).`)
}
