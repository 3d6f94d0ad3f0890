package harness

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"
)

// flushInterval bounds how long a recorded op may sit in the writer's buffer:
// a harness killed with SIGKILL loses at most this much of its history.
const flushInterval = 100 * time.Millisecond

// historyWriter records ops as they happen. It stamps each op with its Index
// (in recording order) and Time (monotonic ns since the writer's start),
// keeps the history in memory for the checkers, and appends every op to a
// JSON-lines file, flushed at least every flushInterval and on Close.
// Methods are safe for concurrent use.
type historyWriter struct {
	start time.Time

	mu     sync.Mutex
	f      *os.File
	w      *bufio.Writer
	h      History
	err    error // first write error; recording continues in memory
	closed bool
	watch  func(Op)

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// newHistoryWriter creates (truncates) path and starts the periodic flush.
// Op times are measured from start; pass the time the test started.
func newHistoryWriter(path string, start time.Time) (*historyWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history: %w", err)
	}
	hw := &historyWriter{
		start: start,
		f:     f,
		w:     bufio.NewWriterSize(f, 256<<10),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go hw.flushLoop()
	return hw, nil
}

// Watch sets a function that sees every op right after it is recorded, in
// order. It runs under the writer's lock: keep it short and do not record
// from it.
func (hw *historyWriter) Watch(f func(Op)) {
	hw.mu.Lock()
	hw.watch = f
	hw.mu.Unlock()
}

// Record stamps op with the next Index and the current time and appends it.
// Index and Time are assigned under one lock, so Index order is time order.
func (hw *historyWriter) Record(op Op) Op {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	op.Index = len(hw.h)
	op.Time = int64(time.Since(hw.start))
	hw.h = append(hw.h, op)
	if !hw.closed && hw.err == nil {
		b, err := op.MarshalLine()
		if err == nil {
			b = append(b, '\n')
			_, err = hw.w.Write(b)
		}
		if err != nil {
			hw.err = fmt.Errorf("write history: %w", err)
		}
	}
	if hw.watch != nil {
		hw.watch(op)
	}
	return op
}

// restart moves time 0 of the history; only before the first op.
func (hw *historyWriter) restart(start time.Time) {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	if len(hw.h) == 0 {
		hw.start = start
	}
}

// Since returns the writer's clock: time since the test started.
func (hw *historyWriter) Since() time.Duration {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	return time.Since(hw.start)
}

// Len returns the number of ops recorded.
func (hw *historyWriter) Len() int {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	return len(hw.h)
}

// History returns a copy of the ops recorded so far.
func (hw *historyWriter) History() History {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	return append(History(nil), hw.h...)
}

// tail returns a copy of the ops recorded from index i on: readers that
// follow the history copy only what is new, not the whole of it under the
// lock the workers record through.
func (hw *historyWriter) tail(i int) History {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	return append(History(nil), hw.h[min(i, len(hw.h)):]...)
}

// Flush writes buffered ops to the file.
func (hw *historyWriter) Flush() error {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	return hw.flushLocked()
}

func (hw *historyWriter) flushLocked() error {
	if hw.closed {
		return hw.err
	}
	if hw.err == nil {
		if err := hw.w.Flush(); err != nil {
			hw.err = fmt.Errorf("flush history: %w", err)
		}
	}
	return hw.err
}

func (hw *historyWriter) flushLoop() {
	defer close(hw.done)
	t := time.NewTicker(flushInterval / 2) // half the bound: a tick may come late
	defer t.Stop()
	for {
		select {
		case <-hw.stop:
			return
		case <-t.C:
			_ = hw.Flush()
		}
	}
}

// Close flushes, syncs and closes the file. Ops recorded afterwards are kept
// in memory only. It returns the first write error, if any.
func (hw *historyWriter) Close() error {
	hw.stopOnce.Do(func() { close(hw.stop) })
	<-hw.done

	hw.mu.Lock()
	defer hw.mu.Unlock()
	if hw.closed {
		return hw.err
	}
	_ = hw.flushLocked()
	hw.closed = true
	if err := hw.f.Sync(); err != nil && hw.err == nil {
		hw.err = fmt.Errorf("sync history: %w", err)
	}
	if err := hw.f.Close(); err != nil && hw.err == nil {
		hw.err = fmt.Errorf("close history: %w", err)
	}
	return hw.err
}
