// Command testnode is a tiny stand-in for a system node, for the local
// deployment's tests: it counts its boots in its data directory, answers
// its status, and calls a peer through the address it was given for it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	id := flag.String("id", "", "node id")
	listen := flag.String("listen", "", "host:port")
	peersFlag := flag.String("peers", "", "id=addr,...")
	data := flag.String("data", "", "data dir")
	crash := flag.Bool("crash", false, "exit at once with status 3")
	peerListen := flag.String("peer-listen", "", "second listener for peers (shared peer maps)")
	flag.Parse()
	if *crash {
		fmt.Fprintln(os.Stderr, "testnode: crashing on purpose")
		os.Exit(3)
	}
	peers := map[string]string{}
	for _, kv := range strings.Split(*peersFlag, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			peers[k] = v
		}
	}
	boots := 1
	path := filepath.Join(*data, "boots")
	if b, err := os.ReadFile(path); err == nil {
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		boots = n + 1
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(boots)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "testnode %s: boot %d listening on %s\n", *id, boots, *listen)

	peerClient := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"id": *id, "role": "replica", "boots": boots})
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, *id) })
	mux.HandleFunc("/call", func(w http.ResponseWriter, r *http.Request) {
		addr, ok := peers[r.URL.Query().Get("peer")]
		if !ok {
			http.Error(w, "unknown peer", http.StatusBadRequest)
			return
		}
		resp, err := peerClient.Get("http://" + addr + "/whoami")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, resp.Body)
	})
	if *peerListen != "" {
		go func() {
			if err := http.ListenAndServe(*peerListen, mux); err != nil {
				fmt.Fprintln(os.Stderr, "testnode:", err)
				os.Exit(1)
			}
		}()
	}
	srv := &http.Server{Addr: *listen, Handler: mux}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		fmt.Fprintf(os.Stderr, "testnode %s: terminated\n", *id)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "testnode:", err)
		os.Exit(1)
	}
}
