package raft

import "time"

// lazyFlushInterval is how long the ack-before-fsync bug keeps appended
// entries in memory before writing them.
const lazyFlushInterval = 200 * time.Millisecond

// lazyLog is the ack-before-fsync bug: Append returns at once, keeping the
// entries in memory, and they reach the real log (and its fsync) only when
// flushDue finds the interval passed — what a store with fsync off, or a
// write-back cache it trusts, does. A node acknowledges entries it would
// lose to SIGKILL; a clean stop flushes. Like the log it wraps, it is used
// only from the node's run loop, so it needs no lock.
type lazyLog struct {
	under LogStore
	pend  []Entry
	last  time.Time // of the last flush
}

func (l *lazyLog) FirstIndex() (uint64, error) {
	first, err := l.under.FirstIndex()
	if err == nil && first == 0 && len(l.pend) > 0 {
		first = l.pend[0].Index
	}
	return first, err
}

func (l *lazyLog) LastIndex() (uint64, error) {
	if len(l.pend) > 0 {
		return l.pend[len(l.pend)-1].Index, nil
	}
	return l.under.LastIndex()
}

func (l *lazyLog) Entries(lo, hi uint64) ([]Entry, error) {
	if err := l.flush(); err != nil {
		return nil, err
	}
	return l.under.Entries(lo, hi)
}

func (l *lazyLog) Append(ents []Entry) error {
	l.pend = append(l.pend, ents...)
	return nil
}

func (l *lazyLog) TruncateSuffix(from uint64) error {
	i := len(l.pend)
	for i > 0 && l.pend[i-1].Index >= from {
		i--
	}
	l.pend = l.pend[:i]
	if i > 0 {
		return nil // everything at or after from was still in memory
	}
	return l.under.TruncateSuffix(from)
}

func (l *lazyLog) TruncatePrefix(upto uint64) error {
	if err := l.flush(); err != nil {
		return err
	}
	return l.under.TruncatePrefix(upto)
}

// flushDue writes the buffered entries if the interval has passed.
func (l *lazyLog) flushDue(now time.Time) error {
	if now.Sub(l.last) < lazyFlushInterval {
		return nil
	}
	l.last = now
	return l.flush()
}

func (l *lazyLog) flush() error {
	if len(l.pend) == 0 {
		return nil
	}
	if err := l.under.Append(l.pend); err != nil {
		return err
	}
	l.pend = nil
	return nil
}
