// Command testnode is a tiny node for deploy/docker's own tests: it serves
// its status, counts its boots in its data dir, and dials its peers on
// request, so tests can see partitions, loss, kills and pauses from inside
// the cluster network without depending on the real system under test.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	id := flag.String("id", "", "node id")
	listen := flag.String("listen", "", "host:port")
	peers := flag.String("peers", "", "id=host:port,...")
	data := flag.String("data", "", "data dir")
	peerListen := flag.String("peer-listen", "", "host:port for peers (a port of its own); default: peers dial listen")
	flag.Parse()
	if *peerListen != "" {
		// Peers' connections arrive here: accept and close them.
		ln, err := net.Listen("tcp", *peerListen)
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}

	peerAddr := map[string]string{}
	for _, p := range strings.Split(*peers, ",") {
		if k, v, ok := strings.Cut(p, "="); ok {
			peerAddr[k] = v
		}
	}
	boots := bootCount(*data)
	log.Printf("testnode %s boot %d listening on %s peers %v", *id, boots, *listen, peerAddr)

	var ticks atomic.Int64 // advances while the process runs (not while SIGSTOPped)
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			ticks.Add(1)
		}
	}()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"id": *id, "role": "replica", "term": boots, "applied": ticks.Load()})
	})
	// /file?name=x returns the file the deployment wrote into the data dir.
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(*data, filepath.Clean("/"+r.URL.Query().Get("name"))))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	// /dial?peer=n2&n=50&timeout=300ms dials the peer n times at once and
	// says how many connections were made.
	mux.HandleFunc("GET /dial", func(w http.ResponseWriter, r *http.Request) {
		addr := peerAddr[r.URL.Query().Get("peer")]
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		timeout, _ := time.ParseDuration(r.URL.Query().Get("timeout"))
		if addr == "" || n <= 0 || timeout <= 0 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(r.Context(), timeout)
				defer cancel()
				var d net.Dialer
				if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
					ok.Add(1)
					c.Close()
				}
			})
		}
		wg.Wait()
		fmt.Fprintf(w, "%d", ok.Load())
	})
	log.Fatal(http.ListenAndServe(*listen, mux))
}

// bootCount increments and returns the number of starts recorded in dir.
func bootCount(dir string) int {
	p := filepath.Join(dir, "boots")
	b, _ := os.ReadFile(p)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	n++
	if err := os.WriteFile(p, []byte(strconv.Itoa(n)), 0o644); err != nil {
		log.Fatalf("write %s: %v", p, err)
	}
	return n
}
