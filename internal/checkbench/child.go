package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/gauntlet-dev/gauntlet/checkers/appendreg"
	"github.com/gauntlet-dev/gauntlet/checkers/linearizable"
	"github.com/gauntlet-dev/gauntlet/checkers/linearizable/linsim"
	"github.com/gauntlet-dev/gauntlet/formats/jepsen"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// shape is a family of histories to check.
type shape struct {
	name string
	help string
	gen  func() ([]harness.History, error)
}

// hot is one register under clients clients: unique values, 20% cas, 1%
// info, 20,000 ops (the failed cas among them are dropped by both checkers).
func hot(clients int, invalid bool) func() ([]harness.History, error) {
	return generated(linsim.Config{Clients: clients, Active: 1, OpsPerKey: 1 << 30, Total: 20_000, InfoRate: 0.01, CASRate: 0.2}, invalid)
}

// easy is 1,000,000 ops over 10,000 keys (10 in use at a time, 100 ops
// each), 20 clients, 1% info, 20% cas.
func easy(invalid bool) func() ([]harness.History, error) {
	return generated(linsim.Config{Clients: 20, Active: 10, OpsPerKey: 100, Total: 1_000_000, InfoRate: 0.01, CASRate: 0.2}, invalid)
}

func generated(cfg linsim.Config, invalid bool) func() ([]harness.History, error) {
	return func() ([]harness.History, error) {
		h := linsim.Simulate(rand.New(rand.NewSource(1)), cfg)
		if invalid && linsim.StaleRead(h) < 0 {
			return nil, fmt.Errorf("no read to make stale")
		}
		return []harness.History{h}, nil
	}
}

// testData decodes porcupine's own test_data (the files matching glob, in
// model), from porcupine's module as go.mod pins it — as formats/jepsen's
// tests use them. Empty files (one etcd log is) are skipped.
func testData(glob string, model jepsen.Model) func() ([]harness.History, error) {
	return func() ([]harness.History, error) {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anishathalye/porcupine").Output()
		if err != nil {
			return nil, fmt.Errorf("finding porcupine's test_data (go list -m porcupine): %w", err)
		}
		paths, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "test_data", glob))
		if len(paths) == 0 {
			return nil, fmt.Errorf("no %s in porcupine's test_data", glob)
		}
		var hs []harness.History
		for _, p := range paths {
			if st, err := os.Stat(p); err != nil || st.Size() == 0 {
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			h, err := jepsen.Decode(f, p, "", model)
			f.Close()
			if err != nil {
				return nil, err
			}
			hs = append(hs, h)
		}
		return hs, nil
	}
}

var shapes = []shape{
	{"hot5", "one key, 5 clients, 20,000 ops, 20% cas, 1% info, unique values", hot(5, false)},
	{"hot10", "the same, 10 clients", hot(10, false)},
	{"hot20", "the same, 20 clients", hot(20, false)},
	{"hot20-invalid", "hot20 with one stale read in its second half", hot(20, true)},
	{"easy", "1,000,000 ops over 10,000 keys, 20 clients, 1% info, 20% cas", easy(false)},
	{"easy-invalid", "easy with one stale read in its second half", easy(true)},
	{"etcd", "porcupine's test_data: 102 Jepsen etcd cas-register logs (values repeat)", testData("jepsen/etcd_*.log", jepsen.CASRegister)},
	{"kv", "porcupine's test_data: 6 get/put/append logs (appendreg, porcupine within the budget)", testData("kv/*.txt", jepsen.KVAppend)},
}

func shapeByName(name string) (shape, bool) {
	for _, s := range shapes {
		if s.name == name {
			return s, true
		}
	}
	return shape{}, false
}

func shapeNames() []string {
	var out []string
	for _, s := range shapes {
		out = append(out, s.name)
	}
	return out
}

// runChild builds the shape's histories, then checks them with one checker
// and prints the result.
func runChild(name, checker string, timeout time.Duration, memCap int64, cpuProfile string) error {
	s, ok := shapeByName(name)
	if !ok || (checker != "gauntlet" && checker != "porcupine") {
		return fmt.Errorf("bad child arguments: shape %q, checker %q", name, checker)
	}
	hs, err := s.gen()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r := result{Shape: name, Checker: checker}
	for _, h := range hs {
		r.Ops += len(h) / 2
	}
	runtime.GC()
	debug.FreeOSMemory()
	// Reset the peak RSS: what follows is the check's own.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	var once sync.Once
	report := func(r result) {
		once.Do(func() {
			r.CheckMB = float64(peakRSS()) / (1 << 20)
			json.NewEncoder(os.Stdout).Encode(r)
			os.Exit(0)
		})
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	start, cpu0 := time.Now(), cpuTime()
	go watchMemory(memCap, func() {
		r := r
		r.Verdict, r.Seconds, r.CPU = "memory", time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
		r.Note = fmt.Sprintf("resident memory passed %d MB after %.1f s: stopped", memCap>>20, r.Seconds)
		report(r)
	})
	counts := map[string]int{}
	for _, h := range hs {
		left := timeout - time.Since(start)
		counts[checkOne(h, checker, left)]++
	}
	r.Seconds, r.CPU = time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
	pprof.StopCPUProfile()
	r.Verdict = summarize(counts)
	report(r)
	return nil
}

func checkOne(h harness.History, checker string, timeout time.Duration) string {
	if timeout <= 0 {
		return "timeout"
	}
	kv := false
	for _, op := range h {
		kv = kv || op.F == appendreg.FAppend
	}
	var plain porcupine.CheckResult
	switch {
	case checker == "gauntlet" && kv:
		return string(appendreg.New(timeout).Check(context.Background(), harness.CheckInput{History: h}).Validity)
	case checker == "gauntlet":
		return string(linearizable.Check(context.Background(), h, linearizable.Options{Timeout: timeout}).Validity)
	case kv:
		plain = porcupine.CheckOperationsTimeout(appendreg.Model, appendreg.Operations(h), timeout)
	default:
		plain = linearizable.Porcupine(h, linearizable.Options{}, timeout)
	}
	switch plain {
	case porcupine.Ok:
		return "valid"
	case porcupine.Illegal:
		return "invalid"
	}
	return "timeout"
}

// summarize is the verdict of one history, or counts of several.
func summarize(counts map[string]int) string {
	if len(counts) == 1 {
		for v, n := range counts {
			if n == 1 {
				return v
			}
		}
	}
	var parts []string
	for _, v := range []string{"valid", "invalid", "unknown", "timeout"} {
		if counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[v], v))
		}
	}
	return strings.Join(parts, ", ")
}

// cpuTime is the CPU time the process used so far (user and system): under
// load, wall time says more about the neighbours than about the check.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// watchMemory calls stop once the process's resident memory passes limit.
func watchMemory(limit int64, stop func()) {
	for range time.Tick(50 * time.Millisecond) {
		if rss() > limit {
			stop()
			return
		}
	}
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// peakRSS is VmHWM: the peak resident memory since the reset.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
