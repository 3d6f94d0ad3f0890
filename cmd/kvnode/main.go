// Command kvnode is Gauntlet's system under test: a replicated key-value
// store with a raft mode and a leaderless quorum mode, each with a catalog
// of injectable bugs (package systemundertest/kvnode, run here on the
// operating system).
//
//	kvnode --mode raft --id n1 --listen 127.0.0.1:7001 \
//	       --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003 --data /tmp/n1
//
// Exit status: 0 after a clean shutdown (SIGTERM, SIGINT), 64 for bad input
// (flags, peer list, data directory, corrupted log), 1 for other failures.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/gauntlet/systemundertest/kvnode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := kvnode.Main(ctx, env.OS(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
