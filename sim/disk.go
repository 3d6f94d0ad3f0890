package sim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
)

// disk is a node's file system. A file's contents are durable up to its
// last Sync; a crash puts back exactly that. Directory entries (create,
// rename, remove) are durable at once, as a journaling file system's
// metadata commonly is, so a correct store is never faulted for a rename
// that ext4 or xfs would have kept; SyncDir is accepted and changes nothing.
type disk struct {
	mu    sync.Mutex
	files map[string]*inode
	dirs  map[string]bool
	locks map[string]*incarnation
}

type inode struct {
	data   []byte
	synced []byte // the durable contents
	// dirty is the lowest offset written or cut since the last Sync:
	// Sync copies from there, so a log that only grows syncs in
	// proportion to what was appended.
	dirty int
	mod   time.Time
}

func newDisk() *disk {
	return &disk{files: map[string]*inode{}, dirs: map[string]bool{"/": true, ".": true}, locks: map[string]*incarnation{}}
}

var errIO = errors.New("input/output error: the node crashed")

func clean(name string) string { return filepath.Clean(name) }

func pathErr(op, name string, err error) error { return &fs.PathError{Op: op, Path: name, Err: err} }

// down releases the locks inc held; a crash also loses what was not
// synced.
func (d *disk) down(inc *incarnation, crash bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ino := range d.files {
		if crash {
			ino.data = append([]byte(nil), ino.synced...)
			ino.dirty = len(ino.data)
		}
	}
	for p, holder := range d.locks {
		if holder == inc {
			delete(d.locks, p)
		}
	}
}

func (d *disk) parentExists(name string) bool {
	dir := filepath.Dir(name)
	return d.dirs[dir] || dir == "." || dir == "/"
}

func (d *disk) open(inc *incarnation, name string, flag int) (env.File, error) {
	if !inc.alive() {
		return nil, pathErr("open", name, errIO)
	}
	p := clean(name)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dirs[p] {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, pathErr("open", name, syscall.EISDIR)
		}
		return &file{d: d, inc: inc, name: name, dir: true}, nil
	}
	ino := d.files[p]
	switch {
	case ino == nil && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case ino != nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case ino == nil:
		if !d.parentExists(p) {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		ino = &inode{mod: time.Now()}
		d.files[p] = ino
	}
	if flag&os.O_TRUNC != 0 && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		ino.data = ino.data[:0]
		ino.dirty = 0
	}
	return &file{d: d, inc: inc, name: name, ino: ino, flag: flag}, nil
}

func (d *disk) readFile(inc *incarnation, name string) ([]byte, error) {
	if !inc.alive() {
		return nil, pathErr("open", name, errIO)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ino := d.files[clean(name)]
	if ino == nil {
		return nil, pathErr("open", name, fs.ErrNotExist)
	}
	return append([]byte(nil), ino.data...), nil
}

func (d *disk) rename(inc *incarnation, oldpath, newpath string) error {
	if !inc.alive() {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: errIO}
	}
	o, n := clean(oldpath), clean(newpath)
	d.mu.Lock()
	ino := d.files[o]
	var err error
	switch {
	case ino == nil:
		err = fs.ErrNotExist
	case !d.parentExists(n):
		err = fs.ErrNotExist
	default:
		delete(d.files, o)
		d.files[n] = ino
	}
	d.mu.Unlock()
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	inc.w.durable(inc, n) // a rename is durable at once (see disk)
	return nil
}

func (d *disk) remove(inc *incarnation, name string) error {
	if !inc.alive() {
		return pathErr("remove", name, errIO)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := clean(name)
	if d.files[p] == nil {
		if d.dirs[p] {
			for f := range d.files {
				if filepath.Dir(f) == p {
					return pathErr("remove", name, syscall.ENOTEMPTY)
				}
			}
			delete(d.dirs, p)
			return nil
		}
		return pathErr("remove", name, fs.ErrNotExist)
	}
	delete(d.files, p)
	return nil
}

func (d *disk) mkdirAll(inc *incarnation, name string) error {
	if !inc.alive() {
		return pathErr("mkdir", name, errIO)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for p := clean(name); p != "." && p != "/"; p = filepath.Dir(p) {
		if d.files[p] != nil {
			return pathErr("mkdir", p, syscall.ENOTDIR)
		}
		d.dirs[p] = true
	}
	return nil
}

func (d *disk) stat(inc *incarnation, name string) (fs.FileInfo, error) {
	if !inc.alive() {
		return nil, pathErr("stat", name, errIO)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := clean(name)
	if d.dirs[p] {
		return info{name: path.Base(p), dir: true}, nil
	}
	ino := d.files[p]
	if ino == nil {
		return nil, pathErr("stat", name, fs.ErrNotExist)
	}
	return info{name: path.Base(p), size: int64(len(ino.data)), mod: ino.mod}, nil
}

func (d *disk) syncDir(inc *incarnation, dir string) error {
	if !inc.alive() {
		return pathErr("sync", dir, errIO)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.dirs[clean(dir)] {
		return pathErr("open", dir, fs.ErrNotExist)
	}
	return nil
}

func (d *disk) lock(inc *incarnation, name string) (io.Closer, error) {
	if _, err := d.open(inc, name, os.O_RDWR|os.O_CREATE); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p := clean(name)
	if holder := d.locks[p]; holder != nil && holder != inc {
		return nil, fmt.Errorf("lock %s: %w", name, syscall.EWOULDBLOCK)
	}
	d.locks[p] = inc
	return lockCloser{d: d, p: p, inc: inc}, nil
}

type lockCloser struct {
	d   *disk
	p   string
	inc *incarnation
}

func (l lockCloser) Close() error {
	l.d.mu.Lock()
	defer l.d.mu.Unlock()
	if l.d.locks[l.p] == l.inc {
		delete(l.d.locks, l.p)
	}
	return nil
}

// file is an open file.
type file struct {
	d      *disk
	inc    *incarnation
	name   string
	ino    *inode
	dir    bool
	flag   int
	pos    int64
	closed bool
}

func (f *file) check(op string) error {
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if !f.inc.alive() {
		return pathErr(op, f.name, errIO)
	}
	if f.dir && op != "sync" && op != "close" && op != "stat" {
		return pathErr(op, f.name, syscall.EISDIR)
	}
	return nil
}

func (f *file) Name() string { return f.name }

func (f *file) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.pos)
	f.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read"); err != nil {
		return 0, err
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) Write(p []byte) (int, error) {
	if f.flag&os.O_APPEND != 0 {
		f.d.mu.Lock()
		f.pos = int64(len(f.ino.data))
		f.d.mu.Unlock()
	}
	n, err := f.WriteAt(p, f.pos)
	f.pos += int64(n)
	return n, err
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, pathErr("write", f.name, syscall.EBADF)
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	ino := f.ino
	end := int(off) + len(p)
	if end > len(ino.data) {
		if end > cap(ino.data) {
			grown := make([]byte, len(ino.data), max(end, 2*cap(ino.data)))
			copy(grown, ino.data)
			ino.data = grown
		}
		ino.data = ino.data[:end]
	}
	copy(ino.data[off:], p)
	ino.dirty = min(ino.dirty, int(off))
	ino.mod = time.Now()
	return len(p), nil
}

func (f *file) Seek(offset int64, whence int) (int64, error) {
	if err := f.check("seek"); err != nil {
		return 0, err
	}
	f.d.mu.Lock()
	size := int64(len(f.ino.data))
	f.d.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.pos
	case io.SeekEnd:
		offset += size
	}
	if offset < 0 {
		return 0, pathErr("seek", f.name, syscall.EINVAL)
	}
	f.pos = offset
	return offset, nil
}

func (f *file) Sync() error {
	if err := f.check("sync"); err != nil {
		return err
	}
	if f.dir {
		return nil
	}
	f.d.mu.Lock()
	ino := f.ino
	from := min(ino.dirty, len(ino.synced), len(ino.data))
	ino.synced = append(ino.synced[:from], ino.data[from:]...)
	ino.dirty = len(ino.data)
	f.d.mu.Unlock()
	f.inc.w.durable(f.inc, clean(f.name))
	return nil
}

func (f *file) Truncate(size int64) error {
	if err := f.check("truncate"); err != nil {
		return err
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	ino := f.ino
	if int(size) <= len(ino.data) {
		ino.data = ino.data[:size]
	} else {
		ino.data = append(ino.data, make([]byte, int(size)-len(ino.data))...)
	}
	ino.dirty = min(ino.dirty, int(size))
	return nil
}

func (f *file) Stat() (fs.FileInfo, error) {
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	if f.dir {
		return info{name: path.Base(f.name), dir: true}, nil
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	return info{name: path.Base(f.name), size: int64(len(f.ino.data)), mod: f.ino.mod}, nil
}

func (f *file) Close() error {
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

type info struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i info) ModTime() time.Time { return i.mod }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }
