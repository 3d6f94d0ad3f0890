package local

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Node ports. A node binds its own port, so the harness must hand it a
// port that stays free until the node binds it. Ports the OS picks for
// bind(":0") come from the ephemeral range, where every outgoing connection
// on the machine (and the mesh's own proxies) also takes its source port: a
// run here lost a node to "address already in use" that way. So node ports
// are drawn at random from below the ephemeral range, probed by binding
// them, and held until just before the node starts.

// ephemeralRange reads the kernel's range (Linux default 32768–60999).
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		l, err1 := strconv.Atoi(f[0])
		h, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && l <= h {
			return l, h
		}
	}
	return lo, hi
}

// reservePort binds a random free port outside the ephemeral range on
// 127.0.0.1 and returns the listener holding it.
func reservePort() (net.Listener, error) {
	lo, hi := ephemeralRange()
	// Candidates: [10000, lo) if that is a useful range, else (hi, 65535].
	from, to := 10000, lo-1
	if to-from < 1000 {
		from, to = hi+1, 65535
	}
	if to-from < 100 {
		// No room outside the ephemeral range: let the OS choose.
		return net.Listen("tcp", "127.0.0.1:0")
	}
	var last error
	for range 200 {
		p := from + rand.IntN(to-from+1)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			return ln, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no free port in %d-%d after 200 tries: %w", from, to, last)
}
