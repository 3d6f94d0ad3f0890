package sim

import (
	"context"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/env"
)

// world starts n1 and n2 serving "hello from <node>" over HTTP.
func world(t *testing.T) (*World, func(node string) (*http.Server, env.Env)) {
	w := New(Options{Seed: 1})
	w.AddNode("n1", "127.77.0.1")
	w.AddNode("n2", "127.77.0.2")
	serve := func(node string) (*http.Server, env.Env) {
		e, err := w.Start(node)
		require.NoError(t, err)
		ln, err := e.Listen("tcp", map[string]string{"n1": "127.77.0.1", "n2": "127.77.0.2"}[node]+":80")
		require.NoError(t, err)
		srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			io.WriteString(rw, "hello from "+node)
		})}
		go srv.Serve(ln)
		return srv, e
	}
	return w, serve
}

func get(ctx context.Context, n env.Network, url string) (string, error) {
	c := &http.Client{Transport: &http.Transport{DialContext: n.DialContext}, Timeout: 2 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestHTTPPartitionPauseCrash(t *testing.T) {
	require.NoError(t, RunTest(t, func() {
		ctx := context.Background()
		w, serve := world(t)
		defer w.Close()
		srv1, _ := serve("n1")
		srv2, e2 := serve("n2")
		defer srv1.Close()
		defer srv2.Close()

		t0 := time.Now()
		body, err := get(ctx, e2, "http://127.77.0.1:80/")
		require.NoError(t, err)
		assert.Equal(t, "hello from n1", body)
		assert.Less(t, time.Since(t0), 10*time.Millisecond, "a round trip takes virtual microseconds")

		w.Partition(map[string][]string{"n1": {"n2"}, "n2": {"n1"}})
		_, err = get(ctx, e2, "http://127.77.0.1:80/")
		require.Error(t, err, "a cut link times out")
		body, err = get(ctx, w.Client(), "http://127.77.0.1:80/")
		require.NoError(t, err, "the harness's clients are never cut off")
		assert.Equal(t, "hello from n1", body)
		w.Heal()

		w.Pause("n1")
		_, err = get(ctx, e2, "http://127.77.0.1:80/")
		require.Error(t, err, "a paused node answers nothing")
		w.Resume("n1")
		body, err = get(ctx, e2, "http://127.77.0.1:80/")
		require.NoError(t, err)
		assert.Equal(t, "hello from n1", body)

		w.Crash("n1")
		_, err = get(ctx, e2, "http://127.77.0.1:80/")
		require.Error(t, err, "a crashed node refuses")
	}))
}

func TestCrashKeepsOnlySynced(t *testing.T) {
	require.NoError(t, RunTest(t, func() {
		w := New(Options{Seed: 1})
		defer w.Close()
		w.AddNode("n1", "127.77.0.1")
		e, err := w.Start("n1")
		require.NoError(t, err)
		require.NoError(t, e.MkdirAll("/data", 0o755))
		f, err := e.OpenFile("/data/log", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		require.NoError(t, err)
		_, err = f.Write([]byte("synced|"))
		require.NoError(t, err)
		require.NoError(t, f.Sync())
		_, err = f.Write([]byte("lost"))
		require.NoError(t, err)
		b, err := e.ReadFile("/data/log")
		require.NoError(t, err)
		assert.Equal(t, "synced|lost", string(b))

		e2, err := w.Start("n1") // crashes the first incarnation
		require.NoError(t, err)
		_, err = f.Write([]byte("zombie"))
		require.Error(t, err, "a crashed incarnation's files fail")
		b, err = e2.ReadFile("/data/log")
		require.NoError(t, err)
		assert.Equal(t, "synced|", string(b))
	}))
}

func TestPausedTimersFireAtResume(t *testing.T) {
	require.NoError(t, RunTest(t, func() {
		w := New(Options{Seed: 1})
		defer w.Close()
		w.AddNode("n1", "127.77.0.1")
		e, err := w.Start("n1")
		require.NoError(t, err)
		tm := e.NewTimer(time.Second)
		w.Pause("n1")
		time.Sleep(5 * time.Second)
		select {
		case <-tm.C():
			t.Fatal("a paused node's timer fired")
		default:
		}
		w.Resume("n1")
		select {
		case <-tm.C():
		case <-time.After(time.Millisecond):
			t.Fatal("the timer did not fire at Resume")
		}
		require.NoError(t, w.SetClock("n1", time.Hour))
		assert.InDelta(t, time.Hour.Seconds(), e.Now().Sub(time.Now()).Seconds(), 0.001)
	}))
}

func TestRunHostsABubbleOutsideTests(t *testing.T) {
	// Run is for programs; inside a test binary it must work as well.
	var virtual time.Duration
	wall := time.Now()
	require.NoError(t, Run(func() {
		t0 := time.Now()
		time.Sleep(time.Hour)
		virtual = time.Since(t0)
	}))
	assert.Equal(t, time.Hour, virtual)
	assert.Less(t, time.Since(wall), 5*time.Second)
	err := Run(func() {
		ch := make(chan int)
		go func() { <-ch }()
	})
	require.Error(t, err, "a goroutine left blocked is reported")
	assert.Contains(t, err.Error(), "goroutines left blocked", "with its stack")
	assert.Contains(t, err.Error(), "TestRunHostsABubbleOutsideTests")

	// Bubbles from several goroutines at once: each its own clock.
	var wg sync.WaitGroup
	slept := make([]time.Duration, 4)
	errs := make([]error, 4)
	for i := range slept {
		wg.Go(func() {
			errs[i] = Run(func() {
				t0 := time.Now()
				time.Sleep(time.Duration(i+1) * time.Hour)
				slept[i] = time.Since(t0)
			})
		})
	}
	wg.Wait()
	for i := range slept {
		require.NoError(t, errs[i])
		assert.Equal(t, time.Duration(i+1)*time.Hour, slept[i], "bubble %d", i)
	}
}
