package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/report"
)

func cmdReport(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.Usage = usageFunc(e, fs, "DIR", "(Re)writes DIR/report.html from the stored run, so old runs get new views,\nand the index of the results folder the run is in.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		return badArgs(e, "report", "want one run directory, got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	if _, err := os.Stat(filepath.Join(dir, harness.ResultsFile)); err != nil {
		return badArgs(e, "report", "%s is not a finished run (no %s)", dir, harness.ResultsFile)
	}
	if err := report.Write(ctx, dir); err != nil {
		fmt.Fprintf(e.stderr, "%s report: %v\n", e.prog(), err)
		return 1
	}
	fmt.Fprintf(e.stdout, "report: %s\n", filepath.Join(dir, harness.ReportFile))
	// A run made by gauntlet lives at <results>/<test>/<start>: refresh
	// that folder's index. A folder anywhere else gets no index above it.
	root, ok := registry.ResultsRoot(filepath.Clean(dir))
	if !ok {
		return 0
	}
	if err := report.WriteIndex(root); err != nil {
		fmt.Fprintf(e.stderr, "%s report: index: %v\n", e.prog(), err)
	} else {
		fmt.Fprintf(e.stdout, "index:  %s\n", filepath.Join(root, report.IndexFile))
	}
	return 0
}

func cmdServe(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	remote := fs.Bool("allow-remote", false, "allow a non-loopback address (results may hold data you do not want to publish)")
	fs.Usage = usageFunc(e, fs, "[--addr 127.0.0.1:8080] [DIR]", "Serves the results folder (default results/) with a fresh index.")
	if code, stop := parseFlags(e, fs, args); stop {
		return code
	}
	dir := harness.DefaultOut
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		return badArgs(e, "serve", "want at most one results folder")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return badArgs(e, "serve", "%s is not a folder", dir)
	}
	if err := loopbackOnly(*addr); err != nil && !*remote {
		return badArgs(e, "serve", "%v; pass --allow-remote to serve beyond this machine", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return badArgs(e, "serve", "listen: %v", err)
	}
	srv := &http.Server{Handler: report.Handler(dir), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "serving %s at http://%s/ (Ctrl-C stops)\n", dir, ln.Addr())
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(e.stderr, "%s serve: %v\n", e.prog(), err)
		return 1
	}
	return 0
}

// loopbackOnly refuses addresses reachable from other machines: an empty
// host (all interfaces) or one that is not a loopback address.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("--addr %q: host must be an IP address or localhost", addr)
	}
	if !ip.IsLoopback() {
		return fmt.Errorf("--addr %q is not a loopback address", addr)
	}
	return nil
}
