// Package txnsim simulates histories of transactions against a correct
// (strict serializable) store, for benchmarks and tests of the isolation
// checker: concurrent clients, each transaction applied at one instant
// between its invocation and completion, info and failed transactions,
// keys retired after a number of writes and replaced by new ones (Elle's
// key-count and max-writes-per-key).
package txnsim

import (
	"container/heap"
	"math/rand"
	"strconv"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Config shapes a history.
type Config struct {
	ListAppend   bool    // append and list reads; otherwise register writes and reads
	Clients      int     // concurrent processes
	Total        int     // transactions
	ActiveKeys   int     // keys in use at once (default 10)
	WritesPerKey int     // writes before a key is retired (default 32)
	MaxLen       int     // micro-ops per transaction, 1..MaxLen (default 4)
	ReadShare    float64 // share of reads among micro-ops (default 0.5)
	InfoRate     float64 // share of transactions that end info (half of them applied)
	FailRate     float64 // share that fail (never applied)
	// StaleRate is the share of reads that return an older version, as a
	// store serving reads from a lagging replica would: a broken history.
	StaleRate float64
}

func (c *Config) defaults() {
	if c.Clients <= 0 {
		c.Clients = 10
	}
	if c.ActiveKeys <= 0 {
		c.ActiveKeys = 10
	}
	if c.WritesPerKey <= 0 {
		c.WritesPerKey = 32
	}
	if c.MaxLen <= 0 {
		c.MaxLen = 4
	}
	if c.ReadShare == 0 {
		c.ReadShare = 0.5
	}
}

type event struct {
	at     int64 // ns
	client int
	kind   uint8 // invoke, apply, complete
}

const (
	evInvoke = iota
	evApply
	evComplete
)

type events []event

func (e events) Len() int           { return len(e) }
func (e events) Less(i, j int) bool { return e[i].at < e[j].at }
func (e events) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)        { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

type client struct {
	proc    harness.Process
	inv     harness.Op
	result  []harness.Mop
	outcome harness.Type
	applied bool
}

// Simulate calls emit with every op, in history order.
func Simulate(rng *rand.Rand, cfg Config, emit func(harness.Op) error) error {
	cfg.defaults()
	var (
		lists   = map[int][]int{} // list-append state
		regs    = map[int]int{}   // rw-register state (0: absent)
		olds    = map[int][]int{} // rw-register: every value each key had
		active  = make([]int, cfg.ActiveKeys)
		writes  = map[int]int{}
		nextKey = cfg.ActiveKeys
		index   = 0
		started = 0
		q       = &events{}
	)
	for i := range active {
		active[i] = i
	}
	clients := make([]client, cfg.Clients)
	for c := range clients {
		clients[c].proc = harness.Process(c)
		heap.Push(q, event{at: int64(rng.Intn(1e6)), client: c, kind: evInvoke})
	}
	// Per-key counters give unique values.
	next := map[int]int{}
	pickKey := func() int { return active[rng.Intn(len(active))] }
	for q.Len() > 0 {
		ev := heap.Pop(q).(event)
		c := &clients[ev.client]
		switch ev.kind {
		case evInvoke:
			if started == cfg.Total {
				continue
			}
			started++
			n := 1 + rng.Intn(cfg.MaxLen)
			mops := make([]harness.Mop, n)
			for i := range mops {
				k := pickKey()
				ks := strconv.Itoa(k)
				if rng.Float64() < cfg.ReadShare {
					mops[i] = harness.Mop{F: harness.MRead, Key: ks}
					continue
				}
				next[k]++
				v := harness.Str(strconv.Itoa(next[k]))
				if cfg.ListAppend {
					mops[i] = harness.Mop{F: harness.MAppend, Key: ks, Value: v}
				} else {
					mops[i] = harness.Mop{F: harness.MWrite, Key: ks, Value: v}
				}
				// Retire a key once it has had its writes.
				if writes[k]++; writes[k] == cfg.WritesPerKey {
					for j := range active {
						if active[j] == k {
							active[j] = nextKey
							nextKey++
						}
					}
				}
			}
			c.inv = harness.Op{Index: index, Process: c.proc, Type: harness.Invoke, F: harness.FTxn, Txn: mops, Time: ev.at}
			index++
			c.outcome = harness.OK
			switch x := rng.Float64(); {
			case x < cfg.InfoRate:
				c.outcome = harness.Info
			case x < cfg.InfoRate+cfg.FailRate:
				c.outcome = harness.Fail
			}
			c.applied = c.outcome == harness.OK || c.outcome == harness.Info && rng.Intn(2) == 0
			if err := emit(c.inv); err != nil {
				return err
			}
			heap.Push(q, event{at: ev.at + 100_000 + int64(rng.Intn(2_000_000)), client: ev.client, kind: evApply})
		case evApply:
			c.result = make([]harness.Mop, len(c.inv.Txn))
			copy(c.result, c.inv.Txn)
			if c.applied {
				apply(rng, cfg, c, lists, regs, olds)
			}
			heap.Push(q, event{at: ev.at + 100_000 + int64(rng.Intn(2_000_000)), client: ev.client, kind: evComplete})
		case evComplete:
			done := c.inv.Complete(c.outcome)
			if c.outcome == harness.OK {
				done.Txn = c.result
			}
			done.Index, done.Time = index, ev.at
			index++
			if err := emit(done); err != nil {
				return err
			}
			if c.outcome == harness.Info {
				// Jepsen retires a process after an info: a new one goes on.
				c.proc += harness.Process(cfg.Clients)
			}
			heap.Push(q, event{at: ev.at + int64(rng.Intn(200_000)), client: ev.client, kind: evInvoke})
		}
	}
	return nil
}

// apply runs a transaction on the store at one instant.
func apply(rng *rand.Rand, cfg Config, c *client, lists map[int][]int, regs map[int]int, olds map[int][]int) {
	for i, m := range c.result {
		k, _ := strconv.Atoi(m.Key)
		stale := cfg.StaleRate > 0 && rng.Float64() < cfg.StaleRate
		switch m.F {
		case harness.MAppend:
			v, _ := strconv.Atoi(*m.Value)
			lists[k] = append(lists[k], v)
		case harness.MWrite:
			v, _ := strconv.Atoi(*m.Value)
			regs[k] = v
			if cfg.StaleRate > 0 {
				olds[k] = append(olds[k], v)
			}
		case harness.MRead:
			if cfg.ListAppend {
				l := lists[k]
				if stale && len(l) > 0 {
					l = l[:rng.Intn(len(l))]
				}
				out := make([]string, len(l))
				for j, v := range l {
					out[j] = strconv.Itoa(v)
				}
				c.result[i].List = out
				continue
			}
			v, ok := regs[k]
			if stale {
				if o := olds[k]; len(o) > 1 {
					v, ok = o[rng.Intn(len(o)-1)], true
				}
			}
			if ok {
				c.result[i].Value = harness.Str(strconv.Itoa(v))
			}
		}
	}
}

// History simulates a whole history in memory.
func History(rng *rand.Rand, cfg Config) harness.History {
	var h harness.History
	_ = Simulate(rng, cfg, func(op harness.Op) error {
		h = append(h, op)
		return nil
	})
	return h
}
