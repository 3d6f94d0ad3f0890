// Command simsweep runs one test over many seeds on the sim deployment, in
// parallel in this process, and says in how many the verdict was invalid
// and which checker said so: catch rates of a bug under a schedule, or the
// false-positive count of a correct store. With -twice every seed runs
// twice, and the sweep says how often the second run's verdict was the
// first's (what a replay from the seed reproduces).
//
//	go run ./internal/simsweep -bug forget-vote -nemesis crash-after,kill-leader -seeds 100
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	_ "github.com/gauntlet-dev/gauntlet/targets/builtin"
)

func main() {
	system := flag.String("system", "raft", "system")
	workload := flag.String("workload", "", "workload (default: the system's)")
	bug := flag.String("bug", "", "bug of the system's catalog (\"\" = the correct store)")
	nemesis := flag.String("nemesis", "partition,kill", "fault packages, comma separated")
	interval := flag.Duration("nemesis-interval", 0, "nemesis interval (0 = default)")
	limit := flag.Duration("time-limit", 10*time.Second, "virtual time of each run")
	rate := flag.Float64("rate", 0, "total ops/s (0 = as fast as the store answers)")
	seeds := flag.Int("seeds", 20, "seeds")
	base := flag.Int64("base-seed", 1, "first seed")
	parallel := flag.Int("parallel", runtime.GOMAXPROCS(0), "runs at once")
	nodes := flag.Int("nodes", 5, "cluster size")
	opts := flag.String("options", "", "system options, k=v comma separated")
	keep := flag.Bool("keep", false, "keep the run folders of invalid runs")
	out := flag.String("out", "", "results folder (default: a temporary one)")
	verbose := flag.Bool("v", false, "print every run")
	twice := flag.Bool("twice", false, "run every seed twice: how often the verdict replays")
	flag.Parse()

	dir := *out
	if dir == "" {
		d, err := os.MkdirTemp("", "simsweep-")
		if err != nil {
			fail(err)
		}
		dir = d
		if !*keep {
			defer os.RemoveAll(d)
		}
	}
	options := map[string]string{}
	if *opts != "" {
		for _, kv := range strings.Split(*opts, ",") {
			k, v, _ := strings.Cut(kv, "=")
			options[k] = v
		}
	}
	var mu sync.Mutex
	verdicts := map[harness.Validity]int{}
	by := map[string]int{}
	var caught []int64
	replays, same := map[harness.Validity]int{}, map[harness.Validity]int{}
	var ops int
	t0 := time.Now()
	var g errgroup.Group
	g.SetLimit(max(1, *parallel))
	for s := *base; s < *base+int64(*seeds); s++ {
		g.Go(func() error {
			t := harness.Test{System: *system, Deploy: "sim", Workload: *workload, Bug: *bug, Nodes: *nodes,
				Nemesis: strings.Split(*nemesis, ","), NemesisInterval: harness.Duration(*interval),
				TimeLimit: harness.Duration(*limit), Rate: *rate, Seed: s, Out: dir, StopOnViolation: *bug != "",
				Options: options}
			res, err := registry.Run(context.Background(), t, registry.RunOptions{NoReport: true})
			if res == nil {
				return fmt.Errorf("seed %d: %w", s, err)
			}
			var again harness.Validity
			if *twice {
				res2, err := registry.Run(context.Background(), t, registry.RunOptions{NoReport: true})
				if res2 == nil {
					return fmt.Errorf("seed %d again: %w", s, err)
				}
				again = res2.Verdict
				_ = os.RemoveAll(res2.Dir)
			}
			var failed []string
			for _, c := range res.Checkers {
				if c.Validity == harness.Invalid {
					failed = append(failed, c.Checker)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			verdicts[res.Verdict]++
			if *twice {
				replays[res.Verdict]++
				if again == res.Verdict {
					same[res.Verdict]++
				}
			}
			ops += res.Ops
			for _, f := range failed {
				by[f]++
			}
			if res.Verdict == harness.Invalid {
				caught = append(caught, s)
			}
			if *verbose || res.Verdict == harness.Invalid || res.Verdict == harness.Unknown {
				fmt.Printf("seed %d: %s %v %s\n", s, res.Verdict, failed, res.Error)
			}
			if res.Verdict != harness.Invalid || !*keep {
				_ = os.RemoveAll(res.Dir)
			} else {
				fmt.Printf("  kept %s\n", res.Dir)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		fail(err)
	}
	sort.Slice(caught, func(i, j int) bool { return caught[i] < caught[j] })
	fmt.Printf("%s bug=%q nemesis=%s limit=%s rate=%g: invalid %d/%d (valid %d, unknown %d) by %v; %d ops/run; %.1fs wall\n",
		*system, *bug, *nemesis, *limit, *rate, verdicts[harness.Invalid], *seeds, verdicts[harness.Valid], verdicts[harness.Unknown],
		by, ops / *seeds, time.Since(t0).Seconds())
	if len(caught) > 0 {
		fmt.Printf("invalid seeds: %v\n", caught)
	}
	if *twice {
		fmt.Printf("replayed: an invalid verdict again in %d/%d seeds, a valid one in %d/%d\n",
			same[harness.Invalid], replays[harness.Invalid], same[harness.Valid], replays[harness.Valid])
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "simsweep:", err)
	os.Exit(1)
}
