//go:build tools

// Package tools pins dependencies that packages of this module use, so that
// parallel work on different packages never has to edit go.mod at once.
package tools

import (
	_ "github.com/anishathalye/porcupine"
	_ "github.com/chromedp/chromedp"
	_ "github.com/google/nftables"
	_ "github.com/stretchr/testify/require"
	_ "github.com/testcontainers/testcontainers-go"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/sync/errgroup"
	_ "gopkg.in/yaml.v3"
	_ "olympos.io/encoding/edn"
)
