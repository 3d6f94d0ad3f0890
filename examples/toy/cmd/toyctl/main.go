// Command toyctl is the gauntlet command with toy registered: toyctl run
// --system toy, toyctl run --replay DIR, toyctl check DIR, toyctl campaign.
package main

import (
	"os"

	"github.com/gauntlet-dev/gauntlet/cli"
	_ "github.com/gauntlet-dev/toy" // registers the toy system
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
