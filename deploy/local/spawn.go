package local

import (
	"os/exec"
	"runtime"
	"sync"
)

// spawner starts processes from one goroutine locked to its OS thread.
//
// Pdeathsig is delivered when the *thread* that forked the child exits, not
// the process. Go retires a thread when a goroutine that locked it exits
// still locked (netlink and namespace code does that), and a child forked
// from such a thread would be killed at a random moment. Forking only from a
// thread that stays locked to this goroutine until the cluster is closed
// makes Pdeathsig mean "the harness died".
type spawner struct {
	mu     sync.Mutex
	reqs   chan spawnReq
	closed bool
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq)}
	go func() {
		runtime.LockOSThread()
		// Never unlocked: when reqs closes (every child is gone by then),
		// the goroutine exits locked and the thread with it.
		for r := range s.reqs {
			r.done <- r.cmd.Start()
		}
	}()
	return s
}

// start runs cmd.Start on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errSpawnerClosed
	}
	done := make(chan error, 1)
	s.reqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

// close ends the spawner; call it only once its children are gone.
func (s *spawner) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.reqs)
	}
}

type spawnError string

func (e spawnError) Error() string { return string(e) }

const errSpawnerClosed = spawnError("the cluster is closed")
