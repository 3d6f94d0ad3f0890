// Package env is a node's only door to the world: the network it listens
// and dials on, the clock it reads and sets timers on, the disk it writes
// and syncs files on, and the randomness it draws. A node written against
// an Env runs unchanged as an operating-system process (OS: the real
// network, clock and disk) and inside Gauntlet's simulation (package sim:
// an in-memory network, a virtual clock and a disk that loses unsynced
// writes on a crash), where every door is a place a fault goes in.
//
// The interface is the union of what a replicated store needs and no more;
// hashicorp/raft's Transport and stores and Go's testing/synctest are its
// references. Everything not behind it (goroutines, channels, mutexes,
// time.Now in libraries the node imports) still works in the simulation,
// whose goroutines run in a synctest bubble: time read through the time
// package there is the bubble's virtual time as well.
package env

import (
	"context"
	"io"
	"io/fs"
	"net"
	"time"
)

// Env is the world as one node sees it.
type Env interface {
	Network
	Clock
	Disk
	// Seed draws a random number for the node to seed its own generators
	// with (election timeouts, jitter). In a simulation it comes from the
	// run's seed.
	Seed() uint64
}

// Network is how a node listens for and reaches its peers and clients.
// Conns are streams (TCP): a simulation delays, stalls, breaks and
// reorders them across connections the way a real network can, never
// corrupting one.
type Network interface {
	Listen(network, address string) (net.Listener, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Clock tells the time and keeps timers. Durations are measured on it, so
// a node whose clock is skewed or paused in a simulation sees what a
// process would.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine after d; the Timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is time.Timer behind an interface.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// Ticker is time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}

// Disk is a node's file system. Data written to a File is durable once
// Sync returned; a directory's entries (files created, renamed, removed)
// once SyncDir of that directory returned. A simulated crash keeps exactly
// that and loses the rest.
type Disk interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	ReadFile(name string) ([]byte, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	MkdirAll(path string, perm fs.FileMode) error
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes the entries of directory dir durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on the file at path (created if
	// missing) for as long as the returned Closer is open; it fails at once
	// if another holder has it (a second node on one data directory).
	Lock(path string) (io.Closer, error)
}

// File is an open file of a Disk.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.WriterAt
	io.Seeker
	io.Closer
	Name() string
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
}
