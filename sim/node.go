package sim

import (
	"context"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
)

// incarnation is one life of a node, from Start to Crash: its env.Env.
type incarnation struct {
	w    *World
	host *host
	n    int
	rng  *rand.Rand // under the world's lock
	dead bool       // under the world's lock
}

var _ env.Env = (*incarnation)(nil)

func (i *incarnation) Listen(network, address string) (net.Listener, error) {
	return i.w.listen(i, network, address)
}

func (i *incarnation) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return i.w.dial(ctx, i, network, address)
}

func (i *incarnation) Now() time.Time { return i.host.clock.now() }

func (i *incarnation) NewTimer(d time.Duration) env.Timer { return i.host.clock.newTimer(d, nil) }

func (i *incarnation) NewTicker(d time.Duration) env.Ticker { return i.host.clock.newTicker(d) }

func (i *incarnation) AfterFunc(d time.Duration, f func()) env.Timer {
	return i.host.clock.newTimer(d, f)
}

func (i *incarnation) Seed() uint64 {
	i.w.mu.Lock()
	defer i.w.mu.Unlock()
	return i.rng.Uint64()
}

func (i *incarnation) OpenFile(name string, flag int, perm fs.FileMode) (env.File, error) {
	return i.host.disk.open(i, name, flag)
}

func (i *incarnation) ReadFile(name string) ([]byte, error) { return i.host.disk.readFile(i, name) }

func (i *incarnation) Rename(oldpath, newpath string) error {
	return i.host.disk.rename(i, oldpath, newpath)
}

func (i *incarnation) Remove(name string) error { return i.host.disk.remove(i, name) }

func (i *incarnation) MkdirAll(path string, perm fs.FileMode) error {
	return i.host.disk.mkdirAll(i, path)
}

func (i *incarnation) Stat(name string) (fs.FileInfo, error) { return i.host.disk.stat(i, name) }

func (i *incarnation) SyncDir(dir string) error { return i.host.disk.syncDir(i, dir) }

func (i *incarnation) Lock(path string) (io.Closer, error) { return i.host.disk.lock(i, path) }

func (i *incarnation) alive() bool {
	i.w.mu.Lock()
	defer i.w.mu.Unlock()
	return !i.dead
}
