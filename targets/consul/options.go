package consul

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Read modes, Consul's names (its consistency-modes docs).
const (
	ReadConsistent = "consistent" // the leader confirms leadership with a quorum first
	ReadDefault    = "default"    // the leader answers from its state; stale in a window around leader changes
	ReadStale      = "stale"      // any server answers from its own state, arbitrarily stale
)

// ReadModes lists the read modes.
var ReadModes = []string{ReadConsistent, ReadDefault, ReadStale}

// Option names: keys of Test.Options and flags of `gauntlet run`.
const (
	OptVersion        = "consul-version"
	OptBinary         = "consul-binary"
	OptReadMode       = "consul-read-mode"
	OptRaftMultiplier = "consul-raft-multiplier"
	OptLockDelay      = "consul-lock-delay"
)

// DefaultVersion is the version built when none is asked for: the last
// MPL-2.0 release line (v1.15.x) that builds here.
const DefaultVersion = "v1.15.4"

// Options configure the Consul system.
type Options struct {
	Version  string // built on first use
	Binary   string // an existing consul binary (overrides Version)
	ReadMode string // ReadConsistent, ReadDefault or ReadStale
	// RaftMultiplier scales Consul's Raft timing (performance.raft_multiplier):
	// 1 is Consul's recommended production setting (leader lease 500 ms,
	// election after 1 s without contact); Consul's default is 5.
	RaftMultiplier int
	// LockDelay is the lock workload's sessions' lock-delay: after a
	// session is invalidated, its locks cannot be taken for that long.
	// 0: Consul's default (15 s); negative: none.
	LockDelay time.Duration
	// OpTimeout bounds Status calls (default 2s). Client ops are bounded
	// by the harness (--op-timeout).
	OpTimeout time.Duration
	Logf      func(string, ...any)
}

func (o *Options) defaults() {
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.ReadMode == "" {
		o.ReadMode = ReadConsistent
	}
	if o.RaftMultiplier == 0 {
		o.RaftMultiplier = 1
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 2 * time.Second
	}
	if o.LockDelay == 0 {
		o.LockDelay = DefaultLockDelay
	}
}

// Kinds of option values, as the registry will name them.
const (
	KindString = "string"
	KindInt    = "int"
)

// Flag describes one option, for the registry and `gauntlet run --help`.
type Flag struct{ Name, Kind, Default, Help string }

// Flags are the system's options.
var Flags = []Flag{
	{OptVersion, KindString, DefaultVersion, "consul: version to build (--system consul; checked here: v1.15.4)"},
	{OptBinary, KindString, "", "consul: use this consul binary instead of building one"},
	{OptReadMode, KindString, ReadConsistent, "consul: read mode: consistent, default or stale (Consul's consistency modes)"},
	{OptRaftMultiplier, KindInt, "1", "consul: performance.raft_multiplier, 1 to 10 (Consul's default 5; 1 is its production advice)"},
	{OptLockDelay, KindString, DefaultLockDelay.String(), "consul: lock-delay of the lock workload's sessions, 0s to 60s (Consul's default 15s)"},
}

// FromMap reads the options from a test's Options (keys of Flags; others
// with the consul- prefix are an error naming the known ones).
func FromMap(m map[string]string) (Options, error) {
	o := Options{Version: m[OptVersion], Binary: m[OptBinary], ReadMode: m[OptReadMode]}
	known := map[string]bool{}
	var names []string
	for _, f := range Flags {
		known[f.Name] = true
		names = append(names, f.Name)
	}
	for k := range m {
		if strings.HasPrefix(k, "consul-") && !known[k] {
			return Options{}, fmt.Errorf("unknown consul option %q (known: %s)", k, strings.Join(names, ", "))
		}
	}
	if o.ReadMode != "" && o.ReadMode != ReadConsistent && o.ReadMode != ReadDefault && o.ReadMode != ReadStale {
		return Options{}, fmt.Errorf("--%s %q: want one of %s", OptReadMode, o.ReadMode, strings.Join(ReadModes, ", "))
	}
	if v := m[OptRaftMultiplier]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			return Options{}, fmt.Errorf("--%s wants a whole number from 1 to 10 (Consul's range), got %q", OptRaftMultiplier, v)
		}
		o.RaftMultiplier = n
	}
	if v := m[OptLockDelay]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			return Options{}, fmt.Errorf("--%s wants a duration from 0s to 60s (Consul's limit), got %q", OptLockDelay, v)
		}
		o.LockDelay = d
		if d == 0 {
			o.LockDelay = -1 // none
		}
	}
	if o.Version != "" && !versionRe.MatchString(o.Version) {
		return Options{}, fmt.Errorf("--%s %q is not of the form v1.X.Y (checked here: %s)", OptVersion, o.Version, strings.Join(Versions, ", "))
	}
	o.defaults()
	return o, nil
}
