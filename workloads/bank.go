// The bank workload: Accounts accounts, each starting with bankBalance.
// Transfers move a random amount (1 to bankMaxTransfer) between two
// accounts inside one transaction, as two add micro-ops ([add a -3]
// [add b 3]); a system refuses the whole transaction (fail) when the add
// would leave an account below zero. Reads read every account in one
// transaction. Whatever the system does, the total stays the same and no
// balance goes negative.
//
// The initial balances are one transaction of writes ([w a 10] [w b 10] …),
// which the generator repeats until one is acknowledged (it observes
// completions, harness.Observer); only then do transfers and reads begin.
// A repeat that lands later only resets the balances, so the total holds.

package workloads

import (
	"fmt"
	"math/rand"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/checkers/bank"
	"github.com/gauntlet-dev/gauntlet/checkers/stats"
	"github.com/gauntlet-dev/gauntlet/harness"
)

// Bank defaults: Jepsen's bank test has 8 accounts and transfers of at
// most 5; a balance of 10 makes overdrafts (and their refusals) common.
const (
	defaultAccounts = 8
	bankBalance     = 10
	bankMaxTransfer = 5
)

func newBank(name string, o Options) (harness.Workload, error) {
	if err := unused(name, o, knobRead|knobAccounts); err != nil {
		return nil, err
	}
	if o.Accounts <= 0 {
		o.Accounts = defaultAccounts
	}
	if o.Accounts < 2 {
		return nil, fmt.Errorf("workload bank: --accounts must be at least 2 (a transfer needs two), got %d", o.Accounts)
	}
	if o.ReadFraction <= 0 {
		o.ReadFraction = defaultRead
	}
	w := &bankWorkload{name: name, opts: o}
	for i := range o.Accounts {
		w.accounts = append(w.accounts, "a"+strconv.Itoa(i))
	}
	return w, nil
}

type bankWorkload struct {
	name     string
	opts     Options
	accounts []string
}

func (w *bankWorkload) Name() string { return w.name }

// Knobs are the options as resolved.
func (w *bankWorkload) Knobs() Options { return w.opts }

// Needs: adds and register reads and writes inside transactions.
func (w *bankWorkload) Needs() []harness.Feature { return []harness.Feature{harness.FeatureTxnAdd} }

func (w *bankWorkload) Checkers() []harness.Checker {
	return []harness.Checker{
		bank.New(bank.Options{Accounts: append([]string(nil), w.accounts...), Total: int64(bankBalance * len(w.accounts))}),
		stats.New(),
	}
}

func (w *bankWorkload) Generator(rng *rand.Rand) harness.Generator {
	return &bankGen{accounts: w.accounts, read: w.opts.ReadFraction, rng: rng}
}

type bankGen struct {
	accounts []string
	read     float64
	rng      *rand.Rand
	opened   bool // an initial transaction was acknowledged
}

func (g *bankGen) Keys() []string { return append([]string(nil), g.accounts...) }

func (g *bankGen) Next(harness.Process) harness.Op {
	switch {
	case !g.opened:
		return g.open()
	case g.rng.Float64() < g.read:
		return g.readAll()
	default:
		from := g.rng.Intn(len(g.accounts))
		to := (from + 1 + g.rng.Intn(len(g.accounts)-1)) % len(g.accounts)
		amount := 1 + g.rng.Intn(bankMaxTransfer)
		return harness.Op{F: harness.FTxn, Txn: []harness.Mop{
			{F: harness.MAdd, Key: g.accounts[from], Value: harness.Str(strconv.Itoa(-amount))},
			{F: harness.MAdd, Key: g.accounts[to], Value: harness.Str(strconv.Itoa(amount))},
		}}
	}
}

// open is the transaction that writes every initial balance.
func (g *bankGen) open() harness.Op {
	txn := make([]harness.Mop, len(g.accounts))
	for i, a := range g.accounts {
		txn[i] = harness.Mop{F: harness.MWrite, Key: a, Value: harness.Str(strconv.Itoa(bankBalance))}
	}
	return harness.Op{F: harness.FTxn, Txn: txn}
}

func (g *bankGen) readAll() harness.Op {
	txn := make([]harness.Mop, len(g.accounts))
	for i, a := range g.accounts {
		txn[i] = harness.Mop{F: harness.MRead, Key: a}
	}
	return harness.Op{F: harness.FTxn, Txn: txn}
}

// Observe starts the transfers once an initial transaction is ok.
func (g *bankGen) Observe(done harness.Op) {
	if g.opened || done.Type != harness.OK || done.F != harness.FTxn || len(done.Txn) == 0 {
		return
	}
	for _, m := range done.Txn {
		if m.F != harness.MWrite {
			return
		}
	}
	g.opened = true
}

// FinalRead reads every account after the heal: the bank checker judges
// whole reads only.
func (g *bankGen) FinalRead(string) harness.Op { return g.readAll() }
