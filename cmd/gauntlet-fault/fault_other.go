//go:build !linux

package main

import "errors"

var errNotLinux = errors.New("network faults need Linux (nftables, netem)")

func apply(state) error { return errNotLinux }

type probeResult struct{}

func probe(string) (probeResult, error) { return probeResult{}, errNotLinux }
