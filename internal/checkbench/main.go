// Command checkbench compares Gauntlet's linearizability checker with plain
// porcupine (every op, one partition per key) on the same histories, side by
// side, with time and peak memory of each: `make bench` runs it.
//
// Each (shape, checker) pair runs in its own child process, so that one
// checker's memory does not count against the other and a runaway search
// can be stopped: a child is killed at its timeout, and a child whose
// resident memory passes -mem stops itself. Peak RSS is the child's maximum
// resident set size as the kernel accounts it (what /usr/bin/time -v prints),
// and also the peak of the check alone (VmHWM reset after the history was
// built).
//
//	go run ./internal/checkbench [-shapes hot5,hot10,hot20,easy,etcd,kv] [-timeout 60s] [-mem 8589934592]
//
// To profile one side: go run ./internal/checkbench -child -shape easy
// -checker gauntlet -cpuprofile cpu.out, then go tool pprof cpu.out.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// result is what a child reports.
type result struct {
	Shape   string  `json:"shape"`
	Checker string  `json:"checker"`
	Ops     int     `json:"ops"` // invocations checked
	Verdict string  `json:"verdict"`
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_s"`    // CPU time of the check, all threads
	CheckMB float64 `json:"check_mb"` // peak RSS while checking (history included)
	Note    string  `json:"note,omitempty"`
	// filled by the parent
	MaxRSSMB float64 `json:"max_rss_mb"`
}

func main() {
	child := flag.Bool("child", false, "run one check and print its result as JSON (used by the parent)")
	shapes := flag.String("shapes", "hot5,hot10,hot20,hot20-invalid,easy,easy-invalid,etcd,kv", "comma-separated shapes: "+strings.Join(shapeNames(), ", "))
	shape := flag.String("shape", "", "the child's shape")
	checker := flag.String("checker", "", "the child's checker: gauntlet or porcupine")
	timeout := flag.Duration("timeout", 60*time.Second, "how long plain porcupine (and Gauntlet's check) may take per shape")
	memCap := flag.Int64("mem", 8<<30, "a child whose resident memory passes this many bytes stops (plain porcupine has no budget)")
	cpuProfile := flag.String("cpuprofile", "", "with -child: write the check's CPU profile here (go tool pprof)")
	flag.Parse()
	if *child {
		if err := runChild(*shape, *checker, *timeout, *memCap, *cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "checkbench:", err)
			os.Exit(1)
		}
		return
	}
	var rows [][2]result
	for _, s := range strings.Split(*shapes, ",") {
		if _, ok := shapeByName(s); !ok {
			fmt.Fprintf(os.Stderr, "checkbench: unknown shape %q; known: %s\n", s, strings.Join(shapeNames(), ", "))
			os.Exit(64)
		}
		var row [2]result
		for i, c := range []string{"gauntlet", "porcupine"} {
			row[i] = runParent(s, c, *timeout, *memCap)
			fmt.Fprintf(os.Stderr, "%-14s %-10s %-8s %8.3f s (cpu %.3f s)  peak %6.0f MB  %s\n", s, c, row[i].Verdict, row[i].Seconds, row[i].CPU, row[i].MaxRSSMB, row[i].Note)
		}
		rows = append(rows, row)
	}
	printTable(rows)
}

// runParent runs one child and reads its result; a child that dies or is
// killed is reported as such.
func runParent(shape, checker string, timeout time.Duration, memCap int64) result {
	self, err := os.Executable()
	if err != nil {
		return result{Shape: shape, Checker: checker, Verdict: "error", Note: err.Error()}
	}
	// The child generates its history first; allow for that beyond the
	// check's own timeout.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-child", "-shape", shape, "-checker", checker,
		"-timeout", timeout.String(), "-mem", fmt.Sprint(memCap))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	r := result{Shape: shape, Checker: checker}
	if uerr := json.Unmarshal(out.Bytes(), &r); uerr != nil {
		r.Verdict = "error"
		r.Note = strings.TrimSpace(errb.String())
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			r.Verdict, r.Note = "killed", fmt.Sprintf("no verdict after %s", timeout+90*time.Second)
		} else if runErr != nil {
			r.Note = strings.TrimSpace(runErr.Error() + " " + r.Note)
		}
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSMB = float64(ru.Maxrss) / 1024 // kB on Linux
		}
	}
	return r
}

func printTable(rows [][2]result) {
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nGauntlet's linearizable checker vs plain porcupine (per-key partitions), load average %s\n",
		strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "shape\tops\tgauntlet\ttime\tcpu\tpeak RSS\tporcupine\ttime\tcpu\tpeak RSS\tfaster (wall)\tfaster (cpu)\t")
	for _, row := range rows {
		g, p := row[0], row[1]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.2f s\t%.0f MB\t%s\t%s\t%.2f s\t%.0f MB\t%s\t%s\t\n", g.Shape, g.Ops,
			g.Verdict, secs(g), g.CPU, g.MaxRSSMB, verdict(p), secs(p), p.CPU, p.MaxRSSMB, ratio(p, p.Seconds, g.Seconds), ratio(p, p.CPU, g.CPU))
	}
	tw.Flush()
	for _, row := range rows {
		for _, r := range row {
			if r.Note != "" {
				fmt.Printf("%s, %s: %s\n", r.Shape, r.Checker, r.Note)
			}
		}
	}
}

// ratio is how many times faster Gauntlet was (at least, when porcupine
// gave no verdict).
func ratio(p result, pv, gv float64) string {
	switch {
	case gv <= 0 || pv <= 0:
		return "-"
	case p.Verdict == "timeout" || p.Verdict == "memory" || p.Verdict == "killed":
		return fmt.Sprintf("> %.0fx", pv/gv)
	}
	return fmt.Sprintf("%.1fx", pv/gv)
}

func secs(r result) string { return fmt.Sprintf("%.3f s", r.Seconds) }

func verdict(r result) string {
	switch r.Verdict {
	case "timeout":
		return fmt.Sprintf("timeout after %.0fs", r.Seconds)
	case "memory":
		return "stopped at memory cap"
	}
	return r.Verdict
}
