package registry

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// SystemDef is a system as it is registered: its name, its typed options and
// how to make it. Built-in targets register theirs from their own package's
// init, exactly as a team registers its own system.
type SystemDef struct {
	// Name is what --system and Test.System say. With Scheme set, the name
	// is a prefix: "exec" matches --system exec:FILE, and New gets FILE as
	// Config.Arg.
	Name   string
	Scheme bool
	// Help is one line for `gauntlet run -h` and `gauntlet bugs`.
	Help string
	// Options are the system's own settings: flags of `gauntlet run`
	// (--name=value), Test.Options in config.json, checked against their
	// Kind before anything starts.
	Options []Option
	// New makes the system for one run. An error is a configuration error
	// (exit 64): say what is wrong and what would be right.
	New func(Config) (harness.System, error)
}

// Config is what SystemDef.New is given.
type Config struct {
	Name   string // the name asked for, e.g. "raft" or "exec:store.yaml"
	Arg    string // for a Scheme: what follows "NAME:"
	Values        // the options, checked against their kinds
	Log    harness.Logger
}

// Kind is the type of an option's value.
type Kind int

const (
	String Kind = iota
	Bool
	Int
	Duration
)

func (k Kind) String() string {
	return [...]string{"string", "bool", "int", "duration"}[k]
}

// Option is one setting a system declares.
type Option struct {
	Name    string // the flag, e.g. "etcd-version"
	Kind    Kind
	Default string // "" = the zero value of its kind
	Help    string
}

// check parses v as the option's kind.
func (o Option) check(v string) error {
	var err error
	switch o.Kind {
	case Bool:
		_, err = strconv.ParseBool(v)
	case Int:
		_, err = strconv.Atoi(v)
	case Duration:
		_, err = time.ParseDuration(v)
	}
	if err != nil {
		return fmt.Errorf("--%s wants a %s, got %q", o.Name, o.Kind, v)
	}
	return nil
}

// Values are a system's option values by name, already checked.
type Values struct {
	set  map[string]string
	opts []Option
}

func (v Values) raw(name string) string {
	if s, ok := v.set[name]; ok {
		return s
	}
	for _, o := range v.opts {
		if o.Name == name {
			return o.Default
		}
	}
	return ""
}

// Set tells whether the option was given (not just defaulted).
func (v Values) Set(name string) bool { _, ok := v.set[name]; return ok }

// String is the option's value.
func (v Values) String(name string) string { return v.raw(name) }

// Bool is the option's value; false if unset without a default.
func (v Values) Bool(name string) bool { b, _ := strconv.ParseBool(v.raw(name)); return b }

// Int is the option's value; 0 if unset without a default.
func (v Values) Int(name string) int { n, _ := strconv.Atoi(v.raw(name)); return n }

// Duration is the option's value; 0 if unset without a default.
func (v Values) Duration(name string) time.Duration {
	d, _ := time.ParseDuration(v.raw(name))
	return d
}

var (
	mu       sync.Mutex
	systems  = map[string]SystemDef{}
	regErrs  []error
	failOnce = map[string]bool{}
)

// Register adds a system. A second system of the same name, a definition
// without a name or New, or an option declared twice is an error; it is
// also kept, and every later run or check by name fails with it (exit 64),
// so a registration in init cannot be silently lost.
func Register(def SystemDef) error {
	mu.Lock()
	defer mu.Unlock()
	err := validDef(def)
	if err == nil {
		systems[def.Name] = def
		return nil
	}
	regErrs = append(regErrs, err)
	return err
}

func validDef(def SystemDef) error {
	switch {
	case def.Name == "" || strings.ContainsAny(def.Name, ": /\\"):
		return fmt.Errorf("register system %q: a name is one word without ':', '/' or spaces", def.Name)
	case def.New == nil:
		return fmt.Errorf("register system %q: New is nil", def.Name)
	}
	if _, dup := systems[def.Name]; dup {
		return fmt.Errorf("system %q is registered twice; each system needs a name of its own", def.Name)
	}
	seen := map[string]bool{}
	for _, o := range def.Options {
		if o.Name == "" || seen[o.Name] || harnessFlag(o.Name) {
			return fmt.Errorf("register system %q: option %q is empty, declared twice or a flag of gauntlet run", def.Name, o.Name)
		}
		seen[o.Name] = true
		if o.Default != "" {
			if err := o.check(o.Default); err != nil {
				return fmt.Errorf("register system %q: default: %w", def.Name, err)
			}
		}
	}
	return nil
}

// harnessFlag tells whether name is a flag of `gauntlet run` itself.
func harnessFlag(name string) bool {
	return slices.Contains([]string{"name", "system", "deploy", "workload", "nemesis", "nemesis-interval", "nodes",
		"concurrency", "rate", "read-fraction", "time-limit", "recovery-limit", "check-timeout", "op-timeout",
		"seed", "bug", "out", "replay", "stop-on-violation", "v", "hosts", "timescale"}, name)
}

// Err is every registration that failed, joined; nil if none did.
func Err() error {
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(regErrs...)
}

// Systems lists the registered systems, schemes as "NAME:…", sorted.
func Systems() []SystemDef {
	mu.Lock()
	defer mu.Unlock()
	out := make([]SystemDef, 0, len(systems))
	for _, d := range systems {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SystemNames lists the names --system takes ("exec:FILE" for a scheme).
func SystemNames() []string {
	var out []string
	for _, d := range Systems() {
		if d.Scheme {
			out = append(out, d.Name+":FILE")
		} else {
			out = append(out, d.Name)
		}
	}
	return out
}

// lookup finds the definition for a --system name.
func lookup(name string) (SystemDef, string, error) {
	if err := Err(); err != nil {
		return SystemDef{}, "", err
	}
	mu.Lock()
	def, ok := systems[name]
	if !ok {
		if scheme, arg, found := strings.Cut(name, ":"); found {
			if d, ok2 := systems[scheme]; ok2 && d.Scheme {
				mu.Unlock()
				return d, arg, nil
			}
		}
	}
	mu.Unlock()
	if !ok || def.Scheme {
		return SystemDef{}, "", &UnknownSystemError{Name: name, Known: SystemNames()}
	}
	return def, "", nil
}

// UnknownSystemError is a system name no registration in this program
// matches.
type UnknownSystemError struct {
	Name  string
	Known []string
}

func (e *UnknownSystemError) Error() string {
	return fmt.Sprintf("unknown system %q: no system of that name is registered in this program (registered: %s). "+
		"A system of your own is registered with registry.Register from your module: run it from your tests "+
		"(gauntlettest) or from your own program that calls cli.Main (see docs/your-system.md)",
		e.Name, strings.Join(e.Known, ", "))
}

// System makes the named system with the test's options (opts). Every key
// of opts must be an option of that system, of the right kind.
func System(name string, opts map[string]string, log harness.Logger) (harness.System, error) {
	def, arg, err := lookup(name)
	if err != nil {
		return nil, err
	}
	vals, err := values(def, opts)
	if err != nil {
		return nil, err
	}
	sys, err := def.New(Config{Name: name, Arg: arg, Values: vals, Log: log})
	if err != nil {
		return nil, fmt.Errorf("system %s: %w", name, err)
	}
	if sys.Name() != name && sys.Name() != def.Name {
		return nil, fmt.Errorf("system registered as %q calls itself %q: the names must agree (config.json records the one that ran)", name, sys.Name())
	}
	return sys, nil
}

func values(def SystemDef, opts map[string]string) (Values, error) {
	v := Values{set: map[string]string{}, opts: def.Options}
	var errs []error
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i := slices.IndexFunc(def.Options, func(o Option) bool { return o.Name == k })
		if i < 0 {
			var names []string
			for _, o := range def.Options {
				names = append(names, "--"+o.Name)
			}
			known := "it has none"
			if len(names) > 0 {
				known = "its options: " + strings.Join(names, ", ")
			}
			errs = append(errs, fmt.Errorf("--%s is not an option of system %s (%s)", k, def.Name, known))
			continue
		}
		if err := def.Options[i].check(opts[k]); err != nil {
			errs = append(errs, err)
			continue
		}
		v.set[k] = opts[k]
	}
	return v, errors.Join(errs...)
}

// resolvedOptions is every option def declares with its value: the one set,
// else its default, else the zero of its kind ("", "false", "0", "0s").
func resolvedOptions(def SystemDef, set map[string]string) map[string]string {
	out := map[string]string{}
	for _, o := range def.Options {
		v, ok := set[o.Name]
		if !ok {
			v = o.Default
		}
		if v == "" {
			v = [...]string{"", "false", "0", "0s"}[o.Kind]
		}
		out[o.Name] = v
	}
	return out
}

// Options lists every option of every registered system, for flags.
func Options() []Option {
	var out []Option
	seen := map[string]bool{}
	for _, d := range Systems() {
		for _, o := range d.Options {
			if !seen[o.Name] {
				seen[o.Name] = true
				out = append(out, o)
			}
		}
	}
	return out
}
