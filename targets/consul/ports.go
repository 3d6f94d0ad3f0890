package consul

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// freePort finds a TCP port free on host, drawn below the kernel's
// ephemeral range (like deploy/local's node ports: a port from bind(":0")
// can be taken by any outgoing connection before the agent binds it).
// TODO(seam): goes away when the deployment hands out declared ports.
func freePort(host string) (int, error) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if l, err := strconv.Atoi(f[0]); err == nil {
				lo = l
			}
		}
	}
	if lo-10000 < 1000 {
		lo = 65536 // no room below: try the whole upper range
	}
	var last error
	for range 100 {
		p := 10000 + rand.IntN(lo-10000)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			ln.Close()
			return p, nil
		}
		last = err
	}
	return 0, fmt.Errorf("no free port on %s: %w", host, last)
}
