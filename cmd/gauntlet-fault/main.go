// Command gauntlet-fault makes network faults inside one container's network
// namespace. deploy/docker runs it as the long-lived "holder" of each node's
// namespace (serve --control) and sends it fault states over HTTP; the same
// static binary also applies them from the command line (apply, heal,
// probe, e.g. through docker exec), so the image needs no shell, nft or tc.
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
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

const usage = `usage:
  gauntlet-fault serve [--control HOST:PORT]
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
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		control := fs.String("control", "", "host:port of the control API (POST /apply, GET /probe); empty = none")
		if err := fs.Parse(args[1:]); err != nil {
			return 64
		}
		err = serve(*control, stdout)
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

// serve is the holder's main process: it owns the namespace and, with a
// control address, applies fault states sent over HTTP, which is much
// faster than a docker exec per change (no runc, no process start) and so
// keeps the recorded fault times close to the real ones. It exits promptly
// on SIGTERM, which PID 1 would otherwise ignore.
func serve(control string, stdout io.Writer) error {
	var mu sync.Mutex // one change at a time; also orders the log lines
	logf := func(format string, args ...any) {
		fmt.Fprintf(stdout, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	errc := make(chan error, 1)
	if control != "" {
		ln, err := net.Listen("tcp", control)
		if err != nil {
			return fmt.Errorf("control listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("POST /apply", func(w http.ResponseWriter, r *http.Request) {
			var st state
			if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if err := st.validate(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			b, _ := json.Marshal(st)
			if err := apply(st); err != nil {
				logf("apply %s FAILED: %v", b, err)
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			logf("applied %s", b)
			fmt.Fprintf(w, "applied %s\n", b)
		})
		mux.HandleFunc("GET /probe", func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			p, err := probe("")
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			json.NewEncoder(w).Encode(p)
		})
		go func() { errc <- http.Serve(ln, mux) }()
	}
	logf("gauntlet-fault holder up (control %q)", control)
	select {
	case s := <-sig:
		logf("gauntlet-fault holder exiting on %v", s)
		return nil
	case err := <-errc:
		return fmt.Errorf("control server: %w", err)
	}
}

// validate checks what flags parsing checks for the CLI.
func (st state) validate() error {
	if st.Loss < 0 || st.Loss > 1 {
		return fmt.Errorf("loss %v not in [0,1]", st.Loss)
	}
	for _, l := range [][]string{st.Drop, st.LossTo, st.DelayTo} {
		for _, ip := range l {
			if net.ParseIP(ip).To4() == nil {
				return fmt.Errorf("not an IPv4 address: %q", ip)
			}
		}
	}
	if st.Delay < 0 || st.Jitter < 0 {
		return fmt.Errorf("negative delay %v or jitter %v", st.Delay, st.Jitter)
	}
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
