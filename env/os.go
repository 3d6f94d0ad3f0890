package env

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"
)

// OS returns the real world: the operating system's network, clock and
// disk, and randomness from crypto/rand.
func OS() Env { return osEnv{} }

type osEnv struct{}

func (osEnv) Listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

func (osEnv) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func (osEnv) Now() time.Time { return time.Now() }

func (osEnv) NewTimer(d time.Duration) Timer { return osTimer{time.NewTimer(d)} }

func (osEnv) NewTicker(d time.Duration) Ticker { return osTicker{time.NewTicker(d)} }

func (osEnv) AfterFunc(d time.Duration, f func()) Timer { return osTimer{time.AfterFunc(d, f)} }

func (osEnv) Seed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	return binary.LittleEndian.Uint64(b[:])
}

func (osEnv) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *os.File must not become a non-nil File
	}
	return f, nil
}

func (osEnv) ReadFile(name string) ([]byte, error)         { return os.ReadFile(name) }
func (osEnv) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osEnv) Remove(name string) error                     { return os.Remove(name) }
func (osEnv) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }
func (osEnv) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }

func (osEnv) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (osEnv) Lock(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

type osTimer struct{ t *time.Timer }

func (t osTimer) C() <-chan time.Time        { return t.t.C }
func (t osTimer) Stop() bool                 { return t.t.Stop() }
func (t osTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

type osTicker struct{ t *time.Ticker }

func (t osTicker) C() <-chan time.Time   { return t.t.C }
func (t osTicker) Stop()                 { t.t.Stop() }
func (t osTicker) Reset(d time.Duration) { t.t.Reset(d) }
