// Command gauntlet runs Jepsen-style correctness tests (see package cli for
// the subcommands). It is cli.Main with the built-in targets linked in.
package main

import (
	"os"

	"github.com/gauntlet-dev/gauntlet/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
