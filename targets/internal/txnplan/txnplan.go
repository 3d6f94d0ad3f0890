// Package txnplan runs a transaction (list-append, rw-register, bank) on a
// key-value store that offers a consistent multi-key read and an atomic,
// conditional multi-key write, but no transactions of micro-ops: etcd
// (Txn with mod-revision compares) and Consul (/v1/txn with check-index).
//
// The method is optimistic concurrency control, as etcd's STM does it:
//
//  1. Read, in one request at one point of the store's history, every key
//     whose value before the transaction some micro-op depends on (reads,
//     appends, adds — not a blind write).
//  2. Execute the micro-ops locally against that snapshot and the
//     transaction's own earlier writes: what each read returns, the final
//     value of every key written, or why the transaction must be refused
//     (an add that would overdraw).
//  3. A transaction that writes nothing is done: it took effect at the
//     snapshot. Otherwise commit every write in one request guarded by the
//     versions read (each key read is unchanged since): if a guard fails,
//     nothing was written, and the transaction starts again from 1.
//
// A committed transaction's reads hold at its commit point, because no key
// it read changed between the snapshot and the commit, so if the store's
// reads and conditional writes are linearizable the transactions are
// strict serializable.
//
// Outcomes: ok once a commit is acknowledged (or a read-only snapshot
// read); fail when nothing can have been written (a read failed, every
// commit was refused or never sent, the add would overdraw); info when a
// commit was sent and its fate is unknown — never retried then, since it
// may yet apply.
package txnplan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// Slot is one stored value: the register Key or the list Key (a list and a
// register of the same name are different slots).
type Slot struct {
	Key  string
	List bool
}

// Name is the slot's name in the store: a register under its own key (as
// the register workloads store it), a list under "list/<key>".
func (s Slot) Name() string {
	if s.List {
		return "list/" + s.Key
	}
	return s.Key
}

func (s Slot) String() string {
	if s.List {
		return "list " + s.Key
	}
	return s.Key
}

// Stored is what a read found in a slot. Version is the store's own (etcd's
// mod revision, Consul's ModifyIndex); the store's commit guards on it.
type Stored struct {
	Value   string
	Exists  bool
	Version uint64
}

// Plan is a checked transaction and the slots it must read first.
type Plan struct {
	Txn   []harness.Mop
	Reads []Slot // in first use order, each once
}

// New checks the micro-ops and plans which slots to read. A read asks for
// a list when it carries a (possibly empty) List, as the list-append
// workload's reads do.
func New(txn []harness.Mop) (Plan, error) {
	if len(txn) == 0 {
		return Plan{}, errors.New("a transaction without micro-ops")
	}
	p := Plan{Txn: txn}
	seen := map[Slot]bool{}
	known := map[Slot]bool{} // a blind write earlier in the txn set it
	need := func(s Slot) {
		if !known[s] && !seen[s] {
			seen[s] = true
			p.Reads = append(p.Reads, s)
		}
	}
	for i, m := range txn {
		switch m.F {
		case harness.MRead:
			need(Slot{m.Key, m.List != nil})
		case harness.MAppend:
			if m.Value == nil {
				return Plan{}, fmt.Errorf("micro-op %d [append %s]: no value", i, m.Key)
			}
			need(Slot{m.Key, true})
		case harness.MWrite:
			if m.Value == nil {
				return Plan{}, fmt.Errorf("micro-op %d [w %s]: no value", i, m.Key)
			}
			known[Slot{m.Key, false}] = true
		case harness.MAdd:
			if m.Value == nil {
				return Plan{}, fmt.Errorf("micro-op %d [add %s]: no value", i, m.Key)
			}
			if _, err := strconv.ParseInt(*m.Value, 10, 64); err != nil {
				return Plan{}, fmt.Errorf("micro-op %d [add %s %s]: not an integer", i, m.Key, *m.Value)
			}
			need(Slot{m.Key, false})
		default:
			return Plan{}, fmt.Errorf("micro-op %d: unknown function %q (want r, w, append or add)", i, m.F)
		}
	}
	return p, nil
}

// ReadOnly reports whether the transaction writes nothing.
func (p Plan) ReadOnly() bool {
	for _, m := range p.Txn {
		if m.F != harness.MRead {
			return false
		}
	}
	return true
}

// Result is a transaction executed against a snapshot.
type Result struct {
	Txn     []harness.Mop   // the micro-ops with their reads filled in
	Writes  map[Slot]string // the final value of each slot written
	Refused string          // why the whole must be refused ("" if not)
}

// Exec runs the micro-ops against snap (every slot of Reads; absent ones
// with Exists false). Lists are stored as JSON arrays of strings.
func (p Plan) Exec(snap map[Slot]Stored) (Result, error) {
	r := Result{Txn: make([]harness.Mop, len(p.Txn)), Writes: map[Slot]string{}}
	lists := map[Slot][]string{}
	cur := func(s Slot) (string, bool, error) {
		if v, ok := r.Writes[s]; ok {
			return v, true, nil
		}
		st, ok := snap[s]
		if !ok {
			return "", false, fmt.Errorf("the snapshot lacks %s", s)
		}
		return st.Value, st.Exists, nil
	}
	list := func(s Slot) ([]string, error) {
		if l, ok := lists[s]; ok {
			return l, nil
		}
		v, exists, err := cur(s)
		if err != nil || !exists {
			return []string{}, err
		}
		l, err := DecodeList(v)
		if err != nil {
			return nil, fmt.Errorf("%s holds %q, not a list: %w", s, v, err)
		}
		lists[s] = l
		return l, nil
	}
	for i, m := range p.Txn {
		out := m
		out.List = nil
		switch m.F {
		case harness.MRead:
			s := Slot{m.Key, m.List != nil}
			if s.List {
				l, err := list(s)
				if err != nil {
					return Result{}, err
				}
				out.List = append([]string{}, l...)
				break
			}
			v, exists, err := cur(s)
			if err != nil {
				return Result{}, err
			}
			out.Value = nil
			if exists {
				out.Value = harness.Str(v)
			}
		case harness.MWrite:
			r.Writes[Slot{m.Key, false}] = *m.Value
		case harness.MAppend:
			s := Slot{m.Key, true}
			l, err := list(s)
			if err != nil {
				return Result{}, err
			}
			l = append(append([]string{}, l...), *m.Value)
			lists[s] = l
			r.Writes[s] = EncodeList(l)
		case harness.MAdd:
			s := Slot{m.Key, false}
			delta, _ := strconv.ParseInt(*m.Value, 10, 64) // checked by New
			v, exists, err := cur(s)
			if err != nil {
				return Result{}, err
			}
			var n int64
			if exists {
				if n, err = strconv.ParseInt(v, 10, 64); err != nil {
					r.Refused = fmt.Sprintf("add %s %s: it holds %q, not an integer", m.Key, *m.Value, v)
					return r, nil
				}
			}
			if n+delta < 0 {
				r.Refused = fmt.Sprintf("add %s %s: it holds %d, and would fall below zero", m.Key, *m.Value, n)
				return r, nil
			}
			r.Writes[s] = strconv.FormatInt(n+delta, 10)
		}
		r.Txn[i] = out
	}
	return r, nil
}

// EncodeList is a list's stored form: a JSON array of strings.
func EncodeList(l []string) string {
	b, _ := json.Marshal(l)
	return string(b)
}

// DecodeList reads a list's stored form.
func DecodeList(v string) ([]string, error) {
	l := []string{}
	if err := json.Unmarshal([]byte(v), &l); err != nil {
		return nil, err
	}
	return l, nil
}

// Store is what a target offers the method.
type Store interface {
	// Read returns every slot's value at one point of the store's history
	// (absent slots with Exists false). Its error never means a write.
	Read(ctx context.Context, slots []Slot) (map[Slot]Stored, error)
	// Commit writes every slot of writes, in one atomic request, if and
	// only if every slot of read still has the version read (an absent one
	// is still absent). committed false: a guard failed, nothing written.
	Commit(ctx context.Context, read map[Slot]Stored, writes map[Slot]string) (committed bool, err error)
	// NotApplied reports whether a Commit that ended with err certainly
	// wrote nothing (never sent, refused before it was applied).
	NotApplied(err error) bool
}

// MaxAttempts bounds the commits of one transaction that lose a race (a
// guard failed); then it fails, having written nothing.
const MaxAttempts = 20

// Run performs the transaction op on st and completes it (see the package
// comment for the outcomes). note, when not empty, goes into the Error of
// an ok read-only completion (a weak read mode explaining itself).
func Run(ctx context.Context, st Store, op harness.Op, note string) harness.Op {
	p, err := New(op.Txn)
	if err != nil {
		return op.Failed(harness.Fail, err, "")
	}
	for attempt := 1; ; attempt++ {
		snap, err := st.Read(ctx, p.Reads)
		if err != nil {
			return failed(op, harness.Fail, fmt.Sprintf("reading %d keys: %v", len(p.Reads), err), attempt)
		}
		res, err := p.Exec(snap)
		if err != nil { // a slot not as expected: nothing written
			return failed(op, harness.Fail, err.Error(), attempt)
		}
		if res.Refused != "" {
			return failed(op, harness.Fail, "refused: "+res.Refused, attempt)
		}
		if len(res.Writes) == 0 {
			done := op.Complete(harness.OK)
			done.Txn = res.Txn
			if p.ReadOnly() {
				done.Error = note
			}
			return done
		}
		ok, err := st.Commit(ctx, snap, res.Writes)
		switch {
		case err != nil && st.NotApplied(err):
			return failed(op, harness.Fail, "commit not applied: "+err.Error(), attempt)
		case err != nil:
			return failed(op, harness.Info, "commit sent, outcome unknown: "+err.Error(), attempt)
		case ok:
			done := op.Complete(harness.OK)
			done.Txn = res.Txn
			return done
		}
		if attempt >= MaxAttempts {
			return failed(op, harness.Fail, fmt.Sprintf("every commit lost a race (a key read changed before it): gave up after %d attempts", attempt), attempt)
		}
		if ctx.Err() != nil {
			return failed(op, harness.Fail, "a commit lost a race and the op's time ran out before another attempt", attempt)
		}
		backoff(ctx, attempt)
	}
}

// backoff waits a little more after each lost race, so that contending
// clients do not keep colliding in lockstep.
func backoff(ctx context.Context, attempt int) {
	d := time.Duration(min(attempt, 10)) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func failed(op harness.Op, t harness.Type, why string, attempt int) harness.Op {
	out := op.Complete(t)
	out.Error = retried(why, attempt)
	return out
}

// Update is a read-modify-write of one slot by the same method (a counter's
// add): read it, compute its new value with f, commit guarded by the
// version read, and start again on a lost race. f's error refuses the
// update (fail, nothing written). It returns the outcome and why (empty
// when ok); an unknown commit is info and never retried.
func Update(ctx context.Context, st Store, s Slot, f func(Stored) (string, error)) (harness.Type, string) {
	for attempt := 1; ; attempt++ {
		snap, err := st.Read(ctx, []Slot{s})
		if err != nil {
			return harness.Fail, retried("reading "+s.String()+": "+err.Error(), attempt)
		}
		v, err := f(snap[s])
		if err != nil {
			return harness.Fail, retried("refused: "+err.Error(), attempt)
		}
		ok, err := st.Commit(ctx, snap, map[Slot]string{s: v})
		switch {
		case err != nil && st.NotApplied(err):
			return harness.Fail, retried("commit not applied: "+err.Error(), attempt)
		case err != nil:
			return harness.Info, retried("commit sent, outcome unknown: "+err.Error(), attempt)
		case ok:
			return harness.OK, ""
		}
		if attempt >= MaxAttempts {
			return harness.Fail, retried(fmt.Sprintf("every commit lost a race (%s changed before it): gave up", s), attempt)
		}
		if ctx.Err() != nil {
			return harness.Fail, retried("a commit lost a race and the op's time ran out before another attempt", attempt)
		}
		backoff(ctx, attempt)
	}
}

func retried(why string, attempt int) string {
	if attempt > 1 {
		why += fmt.Sprintf(" (attempt %d; the earlier ones lost races and wrote nothing)", attempt)
	}
	return why
}

// Sorted lists m's slots by name: a request's ops in a fixed order, so
// that requests read the same in logs from run to run.
func Sorted[V any](m map[Slot]V) []Slot {
	out := make([]Slot, 0, len(m))
	for sl := range m {
		out = append(out, sl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Int is the integer a slot holds (a counter); absent counts as 0.
func Int(st Stored) (int64, error) {
	if !st.Exists {
		return 0, nil
	}
	n, err := strconv.ParseInt(st.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("it holds %q, not an integer", st.Value)
	}
	return n, nil
}

// Counter performs a counter's add (Value a signed integer: Update of the
// integer at s) or read (the integer, absent 0; note as Run's) on st.
func Counter(ctx context.Context, st Store, op harness.Op, s Slot, note string) harness.Op {
	if op.F == harness.FRead {
		snap, err := st.Read(ctx, []Slot{s})
		if err != nil {
			return op.Failed(harness.Fail, err, "")
		}
		n, err := Int(snap[s])
		if err != nil {
			return op.Failed(harness.Fail, err, "")
		}
		done := op.Read(harness.Str(strconv.FormatInt(n, 10)))
		done.Error = note
		return done
	}
	if op.Value == nil {
		return op.Failed(harness.Fail, nil, "a counter add without a value")
	}
	d, err := strconv.ParseInt(*op.Value, 10, 64)
	if err != nil {
		return op.Failed(harness.Fail, nil, "counter add of "+strconv.Quote(*op.Value)+", not an integer")
	}
	typ, why := Update(ctx, st, s, func(cur Stored) (string, error) {
		n, err := Int(cur)
		return strconv.FormatInt(n+d, 10), err
	})
	done := op.Complete(typ)
	done.Error = why
	return done
}
