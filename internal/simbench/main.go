// Command simbench measures the sim deployment: runs per minute of a 5-node
// raft cluster over a 60 s virtual run (beside the same run on the local
// deployment), CPU per run, peak RSS, and how often a replay of a seed gives
// the same verdict and the same history. `make bench` runs it.
//
//	go run ./internal/simbench [-runs 10] [-time-limit 60s] [-rates 0,100] [-parallel 2] [-local] [-replays 20]
//
// -parallel runs that many sim runs at once (each its own bubble and world,
// in this one process): runs per minute on the machine, not on one core.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	_ "github.com/gauntlet-dev/gauntlet/targets/builtin"
)

func main() {
	runs := flag.Int("runs", 10, "sim runs per rate")
	limit := flag.Duration("time-limit", 60*time.Second, "virtual time of each run")
	rates := flag.String("rates", "0,100", "total ops/s of the workload, comma separated (0 = as fast as the store answers)")
	local := flag.Bool("local", true, "also one run of the same test on the local deployment")
	parallel := flag.Int("parallel", runtime.GOMAXPROCS(0), "sim runs at once")
	replays := flag.Int("replays", 20, "seeds run twice each to measure replay (bug ack-before-fsync under kill, 10 s)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	out, err := os.MkdirTemp("", "simbench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(out)

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOY\tRATE\tRUNS\tAT ONCE\tVALID\tOPS/RUN\tWALL s/RUN\tCPU s/RUN\tRUNS/MIN")
	for _, r := range strings.Split(*rates, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil {
			fail(fmt.Errorf("-rates: %w", err))
		}
		row(tw, "sim", rate, *runs, *parallel, *limit, out)
		if *local {
			row(tw, "local", rate, 1, 1, *limit, out)
		}
	}
	tw.Flush()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("peak RSS of this process (sim runs, the harness, checks): %d MiB\n", ru.Maxrss/1024)

	if *replays > 0 {
		sameVerdict, sameHistory, invalid := 0, 0, 0
		for s := int64(1); s <= int64(*replays); s++ {
			t := test("sim", 0, 10*time.Second, s, out)
			t.Bug, t.Nemesis = "ack-before-fsync", []string{"kill"}
			a, ha := run(t)
			b, hb := run(t)
			if a.Verdict == b.Verdict {
				sameVerdict++
			}
			if ha == hb {
				sameHistory++
			}
			if a.Verdict == harness.Invalid {
				invalid++
			}
		}
		fmt.Printf("replay: %d seeds of raft ack-before-fsync under kill (10 s, sim), each run twice: same verdict %d/%d, identical history %d/%d (first runs invalid: %d/%d)\n",
			*replays, sameVerdict, *replays, sameHistory, *replays, invalid, *replays)
	}
}

func test(deploy string, rate float64, limit time.Duration, seed int64, out string) harness.Test {
	return harness.Test{System: "raft", Deploy: deploy, Nodes: 5, Rate: rate, TimeLimit: harness.Duration(limit),
		Nemesis: []string{"partition", "kill", "pause"}, Seed: seed, Out: out}
}

func row(tw *tabwriter.Writer, deploy string, rate float64, n, parallel int, limit time.Duration, out string) {
	var mu sync.Mutex
	var valid, ops int
	cpu0 := cpu()
	t0 := time.Now()
	var g errgroup.Group
	g.SetLimit(max(1, parallel))
	for s := 1; s <= n; s++ {
		g.Go(func() error {
			res, _ := run(test(deploy, rate, limit, int64(s), out))
			mu.Lock()
			defer mu.Unlock()
			if res.Verdict == harness.Valid {
				valid++
			}
			ops += res.Ops
			return nil
		})
	}
	_ = g.Wait()
	wall := time.Since(t0).Seconds()
	c := (cpu() - cpu0).Seconds() / float64(n)
	if deploy != "sim" {
		c = 0 // the nodes' CPU is in other processes: not comparable
	}
	// WALL s/RUN is the wall time of one run (the batch's, times the runs
	// at once, over the runs); RUNS/MIN is the batch's throughput.
	fmt.Fprintf(tw, "%s\t%g\t%d\t%d\t%d\t%d\t%.2f\t%s\t%.1f\n", deploy, rate, n, max(1, parallel), valid, ops/n,
		wall*float64(min(max(1, parallel), n))/float64(n), cpuText(c), 60*float64(n)/wall)
}

func cpuText(c float64) string {
	if c == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", c)
}

// run carries out t and returns its results and a hash of its history.
func run(t harness.Test) (*harness.Results, string) {
	res, err := registry.Run(context.Background(), t, registry.RunOptions{NoReport: true})
	if res == nil {
		fail(err)
	}
	b, _ := os.ReadFile(res.Dir + "/" + harness.HistoryFile)
	_ = os.RemoveAll(res.Dir)
	return res, fmt.Sprintf("%x", sha256.Sum256(b))
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "simbench:", err)
	os.Exit(1)
}
