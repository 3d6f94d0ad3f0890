package sim

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
