package consul

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/gauntlet-dev/gauntlet/targets/internal/gobuild"
)

// wrapperMain is Consul's own main.go (v1.15.4) less its Windows service
// hook: `go install github.com/hashicorp/consul@vX` fails on the root
// module's replace directives, but a module importing its command packages
// resolves (gobuild writes it into the cache, never into our module).
var wrapperMain = []byte(`package main

import (
	"fmt"
	"io"
	"log"
	"os"

	mcli "github.com/mitchellh/cli"

	"github.com/hashicorp/consul/command"
	"github.com/hashicorp/consul/command/cli"
	"github.com/hashicorp/consul/command/version"
)

func main() { os.Exit(realMain()) }

func realMain() int {
	log.SetOutput(io.Discard)
	ui := &cli.BasicUI{BasicUi: mcli.BasicUi{Writer: os.Stdout, ErrorWriter: os.Stderr}}
	cmds := command.RegisteredCommands(ui)
	var names []string
	for c := range cmds {
		names = append(names, c)
	}
	c := &mcli.CLI{
		Args: os.Args[1:], Commands: cmds, Name: "consul",
		HelpFunc:   mcli.FilteredHelpFunc(names, mcli.BasicHelpFunc("consul")),
		HelpWriter: os.Stdout, ErrorWriter: os.Stderr,
	}
	if c.IsVersion() {
		return version.New(ui).Run(nil)
	}
	code, err := c.Run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error executing CLI: %v\n", err)
		return 1
	}
	return code
}
`)

// pins holds, per version checked to build here, the go.mod lines beyond
// the require of Consul itself. v1.15.4's root go.mod points consul/api at
// ./api with a replace, which a dependent module does not see: the api
// module must be pinned to a release that compiles against the tag (v1.21.1;
// v1.21.0 and v1.22.0 do not), and the root's excludes of go-msgpack
// v1.1.5/v1.1.6 (breaking changes) copied. Later Consul versions are under
// the BUSL licence and v1.16.0 does not resolve from the module proxy here.
var pins = map[string]string{
	"v1.15.4": "require github.com/hashicorp/consul/api v1.21.1\n\n" +
		"exclude (\n\tgithub.com/hashicorp/go-msgpack v1.1.5\n\tgithub.com/hashicorp/go-msgpack v1.1.6\n)\n",
}

// Versions lists the versions Build knows how to pin.
var Versions = []string{"v1.15.4"}

var versionRe = regexp.MustCompile(`^v1\.\d+\.\d+$`)

// Build returns the path of a Consul binary of the given version, building
// it (statically, so the docker deployment can put it in a scratch image)
// into cacheDir/consul-<version>/consul on first use. Cold, with an empty
// module cache, this takes minutes on two cores (docs/consul.md has the
// figure); later runs reuse the binary.
func Build(ctx context.Context, version, cacheDir string, logf func(string, ...any)) (string, error) {
	if !versionRe.MatchString(version) {
		return "", fmt.Errorf("consul version %q is not of the form v1.X.Y (checked here: %s)", version, strings.Join(Versions, ", "))
	}
	pin, ok := pins[version]
	if !ok {
		return "", fmt.Errorf("consul version %s has no known-good dependency pins (checked here: %s; use --consul-binary for others)", version, strings.Join(Versions, ", "))
	}
	return gobuild.Build(ctx, gobuild.Wrapper{
		Name:     "consul",
		Version:  version,
		GoMod:    fmt.Sprintf("module gauntlet.local/consulserver\n\ngo 1.24\n\nrequire github.com/hashicorp/consul %s\n\n%s", version, pin),
		Main:     wrapperMain,
		Versions: Versions,
		Takes:    "several minutes",
	}, cacheDir, logf)
}
