// Command hashiraftnode runs one hashiraft node on the operating system.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gauntlet-dev/gauntlet/env"
	"github.com/gauntlet-dev/hashiraft"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := hashiraft.Main(ctx, env.OS(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
