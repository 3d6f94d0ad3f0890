// Command gauntlet-fault makes network faults inside one container's network
// namespace. deploy/docker runs it as the long-lived "holder" of each node's
// namespace (serve) and applies faults with docker exec of the same static
// binary (apply, heal, probe), so the image needs no shell, nft or tc.
//
// Every apply replaces the whole fault state of the namespace: one nftables
// table of our own (partition drops, random loss) and, where the kernel has
// sch_netem, one netem qdisc (latency). heal removes both. The rest of the
// ruleset (Docker's DNS rules) is never touched.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const usage = `usage:
  gauntlet-fault serve
  gauntlet-fault apply [--drop IP,..] [--loss P --loss-to IP,..] [--delay D --jitter D --delay-to IP,..] [--dev IF]
  gauntlet-fault heal [--dev IF]
  gauntlet-fault probe [--dev IF]
`

// state is the whole fault state of one namespace; apply makes it so.
type state struct {
	Drop    []string      `json:"drop,omitempty"`    // drop every packet from these IPs
	Loss    float64       `json:"loss,omitempty"`    // drop this fraction of packets to LossTo
	LossTo  []string      `json:"loss_to,omitempty"` // empty = every destination
	Delay   time.Duration `json:"delay,omitempty"`   // netem delay of packets to DelayTo
	Jitter  time.Duration `json:"jitter,omitempty"`
	DelayTo []string      `json:"delay_to,omitempty"` // empty = every destination
	Dev     string        `json:"dev,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 64
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(stdout)
	case "apply", "heal", "probe":
		var st state
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		fs.SetOutput(stderr)
		var drop, lossTo, delayTo string
		fs.StringVar(&st.Dev, "dev", "", "interface (default: the first non-loopback one with IPv4)")
		if args[0] == "apply" {
			fs.StringVar(&drop, "drop", "", "comma-separated source IPs to drop")
			fs.Float64Var(&st.Loss, "loss", 0, "fraction of packets to drop, in [0,1]")
			fs.StringVar(&lossTo, "loss-to", "", "comma-separated destination IPs for loss (empty = all)")
			fs.DurationVar(&st.Delay, "delay", 0, "netem delay")
			fs.DurationVar(&st.Jitter, "jitter", 0, "netem jitter")
			fs.StringVar(&delayTo, "delay-to", "", "comma-separated destination IPs for delay (empty = all)")
		}
		if err := fs.Parse(args[1:]); err != nil {
			return 64
		}
		if st.Drop, err = parseIPs(drop); err == nil {
			if st.LossTo, err = parseIPs(lossTo); err == nil {
				st.DelayTo, err = parseIPs(delayTo)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 64
		}
		if st.Loss < 0 || st.Loss > 1 {
			fmt.Fprintf(stderr, "loss %v not in [0,1]\n", st.Loss)
			return 64
		}
		switch args[0] {
		case "apply":
			err = apply(st)
		case "heal":
			err = apply(state{Dev: st.Dev})
		case "probe":
			var p probeResult
			p, err = probe(st.Dev)
			if err == nil {
				err = json.NewEncoder(stdout).Encode(p)
			}
		}
		if err == nil && args[0] != "probe" {
			st.Dev = ""
			if args[0] == "heal" {
				st = state{}
			}
			b, _ := json.Marshal(st)
			fmt.Fprintf(stdout, "applied %s\n", b)
		}
	default:
		fmt.Fprint(stderr, usage)
		return 64
	}
	if err != nil {
		fmt.Fprintf(stderr, "gauntlet-fault %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// serve is the holder's main process: it only has to live (it owns the
// namespace) and exit promptly on SIGTERM, which PID 1 would otherwise ignore.
func serve(stdout io.Writer) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintf(stdout, "%s gauntlet-fault holder up\n", time.Now().UTC().Format(time.RFC3339Nano))
	s := <-sig
	fmt.Fprintf(stdout, "%s gauntlet-fault holder exiting on %v\n", time.Now().UTC().Format(time.RFC3339Nano), s)
	return nil
}

func parseIPs(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		ip := net.ParseIP(strings.TrimSpace(f)).To4()
		if ip == nil {
			return nil, fmt.Errorf("not an IPv4 address: %q", f)
		}
		out = append(out, ip.String())
	}
	return out, nil
}
