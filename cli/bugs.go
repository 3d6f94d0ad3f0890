package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/gauntlet-dev/gauntlet/campaign"
	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
)

func cmdBugs(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("bugs", flag.ContinueOnError)
	sys := fs.String("system", "", "only this system ("+strings.Join(registry.SystemNames(), ", ")+")")
	fs.Usage = usageFunc(e, fs, "[--system S]", "Lists the injectable bugs (--bug NAME): the workload that exposes each, the fault packages\naimed at it (the \"random\" schedule of bench detect), and CAUGHT BY, what catches it in\nthe detection benchmark: "+campaign.ScheduleDefault+" (gauntlet run's default schedule) or simulation\n(only the system's deterministic simulation reaches it).")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		return badArgs(e, "bugs", "unexpected argument %q", fs.Arg(0))
	}
	var names []string
	for _, d := range registry.Systems() {
		if !d.Scheme {
			names = append(names, d.Name)
		}
	}
	if *sys != "" {
		names = []string{*sys}
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SYSTEM\tBUG\tWORKLOAD\tNEMESIS\tCAUGHT BY\tDESCRIPTION")
	for _, n := range names {
		s, err := registry.System(n, nil, nil)
		if err != nil {
			return badArgs(e, "bugs", "%v", err)
		}
		for _, b := range harness.BugsOf(s) {
			by := campaign.ScheduleDefault
			if b.Reach == harness.ReachSimulation {
				by = campaign.ScheduleSimulation
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n, b.Name, b.Workload, strings.Join(b.Nemesis, ","), by, b.Description)
		}
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}
