package etcd

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/gauntlet-dev/gauntlet/targets/internal/gobuild"
)

// wrapperMain is the whole etcd build module besides its go.mod: the server
// module's replace directives stop `go install`, but a module importing it
// resolves (gobuild writes it into the cache, never into our module).
var wrapperMain = []byte(`package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`)

// Versions checked to build and run on these machines.
var Versions = []string{"v3.6.8", "v3.6.9", "v3.6.10", "v3.5.2", "v3.5.3"}

var versionRe = regexp.MustCompile(`^v3\.\d+\.\d+$`)

// Build returns the path of an etcd server binary of the given version,
// building it into cacheDir/etcd-<version>/etcd on first use. Building takes
// about a minute on two cores; later runs reuse the binary.
func Build(ctx context.Context, version, cacheDir string, logf func(string, ...any)) (string, error) {
	if !versionRe.MatchString(version) {
		return "", fmt.Errorf("etcd version %q is not of the form v3.X.Y (checked here: %s)", version, strings.Join(Versions, ", "))
	}
	return gobuild.Build(ctx, gobuild.Wrapper{
		Name:     "etcd",
		Version:  version,
		GoMod:    fmt.Sprintf("module gauntlet.local/etcdserver\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n", version),
		Main:     wrapperMain,
		Versions: Versions,
		Takes:    "about a minute",
	}, cacheDir, logf)
}
