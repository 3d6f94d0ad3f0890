package sim

import (
	"context"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/env"
)

// pair starts n1 (accepting, handing each conn to got) and n2, and returns
// n2's dial to n1.
func pair(t *testing.T) (*World, func() net.Conn, chan net.Conn) {
	w := New(Options{Seed: 3})
	w.AddNode("n1", "127.77.0.1")
	w.AddNode("n2", "127.77.0.2")
	e1, err := w.Start("n1")
	require.NoError(t, err)
	e2, err := w.Start("n2")
	require.NoError(t, err)
	ln, err := e1.Listen("tcp", "127.77.0.1:9")
	require.NoError(t, err)
	got := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			got <- c
		}
	}()
	dial := func() net.Conn {
		c, err := e2.DialContext(context.Background(), "tcp", "127.77.0.1:9")
		require.NoError(t, err)
		return c
	}
	return w, dial, got
}

func readAll(c net.Conn, d time.Duration) string {
	_ = c.SetReadDeadline(time.Now().Add(d))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestDropNextDarkensItsConnection(t *testing.T) {
	require.NoError(t, RunTest(t, func() {
		w, dial, got := pair(t)
		defer w.Close()
		w.AddRule(&Rule{Kind: "data", Action: Drop})
		a := dial()
		_, _ = a.Write([]byte("lost"))
		_, _ = a.Write([]byte("also lost"))
		assert.Equal(t, "", readAll(<-got, time.Second))
		b := dial()
		_, _ = b.Write([]byte("arrives"))
		b.Close()
		assert.Equal(t, "arrives", readAll(<-got, time.Second))
		a.Close()
	}))
}

func TestReorderDeliversAfterALaterMessage(t *testing.T) {
	require.NoError(t, RunTest(t, func() {
		w, dial, got := pair(t)
		defer w.Close()
		w.AddRule(&Rule{From: "n2", Kind: "data", Action: Reorder})
		a := dial()
		b := dial()
		sa, sb := <-got, <-got
		t0 := time.Now()
		_, _ = a.Write([]byte("first"))
		time.Sleep(10 * time.Millisecond)
		_, _ = b.Write([]byte("second"))
		buf := make([]byte, 16)
		n, _ := sa.Read(buf)
		assert.Equal(t, "first", string(buf[:n]))
		assert.GreaterOrEqual(t, time.Since(t0), 10*time.Millisecond, "held until a later message was sent and delivered")
		assert.Less(t, time.Since(t0), heldMax, "released by the later message, not by the bound")
		n, _ = sb.Read(buf)
		assert.Equal(t, "second", string(buf[:n]))
		a.Close()
		b.Close()
	}))
}

func TestCrashSenderDiesRightAfterItsMessage(t *testing.T) {
	require.NoError(t, RunTest(t, func() {
		w, dial, got := pair(t)
		defer w.Close()
		fired := make(chan Segment, 1)
		w.AddRule(&Rule{Kind: "data", Action: CrashSender, After: func(s Segment) { fired <- s }})
		a := dial()
		_, err := a.Write([]byte("last words"))
		require.NoError(t, err)
		s := <-fired
		assert.Equal(t, "n2", s.From)
		assert.False(t, w.Up("n2"), "the sender crashed at once")
		assert.Equal(t, "last words", readAll(<-got, time.Second), "what it sent still arrives")
		_, err = a.Write([]byte("after"))
		assert.Error(t, err, "a crashed node's connections fail")
		assert.Equal(t, map[string]int{"data": 1}, w.KindCounts())
	}))
}

func TestDiskRuleCrashesRightAfterTheDurableWrite(t *testing.T) {
	require.NoError(t, RunTest(t, func() {
		w := New(Options{Seed: 1})
		defer w.Close()
		w.AddNode("n1", "127.77.0.1")
		e, err := w.Start("n1")
		require.NoError(t, err)
		require.NoError(t, e.MkdirAll("/data", 0o755))
		write := func(e env.Env, name, data string) error {
			f, err := e.OpenFile("/data/"+name+".tmp", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			if _, err := f.Write([]byte(data)); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			return e.Rename("/data/"+name+".tmp", "/data/"+name)
		}
		require.NoError(t, write(e, "snap-17.bin", "one"))
		assert.Equal(t, map[string]int{"snap-##.bin.tmp": 1, "snap-##.bin": 1}, w.DurableCounts(), "kinds fold digits")

		restarted := make(chan string, 1)
		w.AddDiskRule(&DiskRule{Kind: "snap-##.bin", After: func(n string) { restarted <- n }})
		require.NoError(t, write(e, "snap-18.bin", "two"), "the write that fires the rule succeeds: it is durable")
		assert.False(t, w.Up("n1"), "and the node is down right after it")
		assert.Equal(t, "n1", <-restarted)
		require.Error(t, write(e, "snap-19.bin", "three"), "a crashed incarnation writes nothing more")

		e2, err := w.Start("n1")
		require.NoError(t, err)
		b, err := e2.ReadFile("/data/snap-18.bin")
		require.NoError(t, err)
		assert.Equal(t, "two", string(b))
		require.NoError(t, write(e2, "snap-20.bin", "four"))
		assert.True(t, w.Up("n1"), "the rule fired once")
	}))
}

func TestCloseWaitsForFaultHooks(t *testing.T) {
	// A hook still asleep when the bubble's main goroutine returned would
	// be left blocked for good (the clock stops then): Close waits for it.
	slept := false
	require.NoError(t, RunTest(t, func() {
		w, dial, got := pair(t)
		w.AddRule(&Rule{Kind: "data", Action: CrashSender, After: func(Segment) {
			time.Sleep(time.Second) // a supervisor's restart delay
			slept = true
		}})
		a := dial()
		_, _ = a.Write([]byte("last words"))
		<-got
		w.Close()
		assert.True(t, slept, "Close returned after the hook")
		w.Go(func() { t.Error("a hook after Close must not run") })
	}))
}
