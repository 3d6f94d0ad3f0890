// Command toynode is a toy replicated store with an API of its own (not
// Gauntlet's wire protocol): the node with the smallest id holds the data
// in memory, the others forward every request to it and hold a copy it
// pushes to them every 100 ms. It exists to show how a team
// plugs its own system into Gauntlet (see ../../toy.go).
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "", "host:port")
	peers := flag.String("peers", "", "id=host:port,... (every node)")
	id := flag.String("id", "", "this node")
	flag.Parse()
	addrs := map[string]string{}
	for _, p := range strings.Split(*peers, ",") {
		k, v, _ := strings.Cut(p, "=")
		addrs[k] = v
	}
	ids := slices.Sorted(func(yield func(string) bool) {
		for k := range addrs {
			if !yield(k) {
				return
			}
		}
	})
	primary := ids[0]
	var mu sync.Mutex
	data := map[string]string{}
	fwd := &http.Client{Timeout: time.Second}
	if *id == primary {
		go func() {
			for range time.Tick(100 * time.Millisecond) {
				mu.Lock()
				b, _ := json.Marshal(data)
				mu.Unlock()
				for _, p := range ids[1:] {
					if resp, err := fwd.Post("http://"+addrs[p]+"/sync", "application/json", bytes.NewReader(b)); err == nil {
						resp.Body.Close()
					}
				}
			}
		}()
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if *id != primary && r.URL.Path != "/digest" && r.URL.Path != "/sync" {
			resp, err := fwd.Post("http://"+addrs[primary]+r.URL.RequestURI(), "text/plain", nil)
			if errors.Is(err, syscall.ECONNREFUSED) {
				http.Error(w, err.Error(), http.StatusServiceUnavailable) // certainly not applied
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusGatewayTimeout) // may or may not have happened
				return
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		q := r.URL.Query()
		k := q.Get("k")
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/sync":
			next := map[string]string{}
			if json.NewDecoder(r.Body).Decode(&next) == nil {
				data = next
			}
		case "/get":
			v, ok := data[k]
			if !ok {
				http.Error(w, "absent", http.StatusNotFound)
				return
			}
			fmt.Fprint(w, v)
		case "/set":
			data[k] = q.Get("v")
		case "/cas":
			if v, ok := data[k]; !ok || v != q.Get("from") {
				http.Error(w, "mismatch", http.StatusConflict)
				return
			}
			data[k] = q.Get("to")
		case "/digest":
			h := sha256.New()
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range data {
					if !yield(k) {
						return
					}
				}
			}) {
				fmt.Fprintf(h, "%q=%q\n", k, data[k])
			}
			fmt.Fprintf(w, "%x", h.Sum(nil)[:8])
		}
	})
	panic(http.ListenAndServe(*listen, nil))
}
