// Package toy plugs toynode, a system of its own, into Gauntlet: this file
// is the whole adapter.
package toy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/targets/kit"
)

type system struct{}

var _ = registry.Register(registry.SystemDef{Name: "toy", New: func(registry.Config) (harness.System, error) { return system{}, nil }})

func (system) Name() string { return "toy" }

func (system) Build(ctx context.Context, cache string) (string, error) {
	return kit.GoBuild(ctx, cache, "github.com/gauntlet-dev/toy/cmd/toynode")
}

func (system) Launch(_ context.Context, n harness.NodeSpec) (harness.Launch, error) {
	return harness.Launch{Binary: n.Binary, Args: []string{"-id", n.ID, "-listen", n.Listen, "-peers", kit.PeerList(n.Peers)}}, nil
}

func (system) NewClient(n harness.Node) (harness.Client, error) {
	return client("http://" + n.Addr()), nil
}

func (system) Digest(ctx context.Context, n harness.Node) (harness.Digest, error) {
	code, body, err := call(ctx, "http://"+n.Addr()+"/digest")
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("digest: %d %s", code, body)
	}
	return harness.Digest{Digest: body}, err
}

type client string

func (client) Close() error { return nil }

// Invoke: a read that fails changed nothing (fail); a write the node refused
// (503) or a cas that found another value (409) certainly did not happen
// (fail); any other trouble after sending may have happened (info).
func (c client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	path, q := "/get", url.Values{"k": {op.Key}}
	switch op.F {
	case harness.FWrite:
		path, q["v"] = "/set", []string{*op.Value}
	case harness.FCAS:
		path, q["from"], q["to"] = "/cas", []string{*op.From}, []string{*op.Value}
	}
	code, body, err := call(ctx, string(c)+path+"?"+q.Encode())
	switch {
	case code == http.StatusOK && op.F == harness.FRead:
		return op.Read(&body)
	case code == http.StatusNotFound && op.F == harness.FRead:
		return op.Read(nil)
	case code == http.StatusOK:
		return op.Complete(harness.OK)
	case op.F == harness.FRead || code == http.StatusServiceUnavailable || code == http.StatusConflict:
		return op.Failed(harness.Fail, err, body)
	}
	return op.Failed(harness.Info, err, body)
}

func call(ctx context.Context, u string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
