package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/registry"
	"github.com/gauntlet-dev/gauntlet/workloads"
)

// knobFlags are the flags that shape a workload beyond its read share: the
// transactional workloads' (Elle's) knobs and the model they are judged
// against. 0 or "" is the workload's default; a workload refuses a knob it
// has no use for.
func knobFlags(fs *flag.FlagSet, t *harness.Test) {
	fs.IntVar(&t.Keys, "keys", 0, "keys in use at once (kv: 8; list-append, rw-register: 10, each half as likely as the one before; set, counter: 2, each retired after 100 or 50 adds)")
	fs.IntVar(&t.MinTxnLength, "min-txn-length", 0, "list-append, rw-register: micro-ops of a transaction, at least (default 1)")
	fs.IntVar(&t.MaxTxnLength, "max-txn-length", 0, "list-append, rw-register: micro-ops of a transaction, at most (default 4)")
	fs.IntVar(&t.MaxWritesPerKey, "max-writes-per-key", 0, "list-append, rw-register: writes of a key before a fresh key replaces it, so per-key histories stay short (default 32)")
	fs.IntVar(&t.Accounts, "accounts", 0, "bank: number of accounts (default 8)")
	fs.StringVar(&t.Consistency, "consistency", "", "list-append, rw-register: the consistency model the system promises, which the history is judged against: "+
		strings.Join(workloads.ConsistencyModels(), ", ")+" (default: the system's own declaration, else strict-serializable)")
}

// overlayKnobs takes the knobs set explicitly over a stored run's.
func overlayKnobs(t *harness.Test, flags harness.Test, set map[string]bool) {
	for name, f := range map[string]func(){
		"keys":               func() { t.Keys = flags.Keys },
		"min-txn-length":     func() { t.MinTxnLength = flags.MinTxnLength },
		"max-txn-length":     func() { t.MaxTxnLength = flags.MaxTxnLength },
		"max-writes-per-key": func() { t.MaxWritesPerKey = flags.MaxWritesPerKey },
		"accounts":           func() { t.Accounts = flags.Accounts },
		"consistency":        func() { t.Consistency = flags.Consistency },
	} {
		if set[name] {
			f()
		}
	}
}

// workloadList is the workloads with a line each, for --help.
func workloadList() string {
	var b strings.Builder
	names := registry.Workloads()
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		about := workloads.Describe(n)
		if about == "" {
			about = "(registered by this program)"
		}
		fmt.Fprintf(&b, "  %-*s  %s\n", width, n, about)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
