// Package sim is a simulated world for nodes written against package env:
// an in-memory network whose every segment the world delivers, delays,
// stalls, reorders across connections or breaks by a seeded schedule; a
// clock per node that can be skewed and paused; a disk per node that loses
// what was not synced when the node crashes. It must run inside a synctest
// bubble (Run), where time is virtual: a 60 s run with elections and
// timeouts takes a fraction of a second.
//
// What the seed fixes: every choice the world makes (latencies, losses,
// which segment a fault takes) is drawn from streams seeded per link and
// per node, and the nodes' own seeds (env.Env.Seed). What it does not fix:
// the order in which Go runs goroutines that are runnable at the same
// virtual instant. A replay reproduces the schedule of choices, and most
// often the verdict; docs/simulation.md gives the measured rate.
package sim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/gauntlet-dev/gauntlet/env"
)

// Options shape a world.
type Options struct {
	Seed int64
	// Latency is the one-way delay of a segment between nodes, drawn
	// uniformly from [Latency/2, Latency*3/2) (0 = 500µs).
	Latency time.Duration
	// Classify names the kinds of message a segment from one node to
	// another carries (a system's own framing: "vote", "append"). Faults
	// aimed at a kind need it; nil = every segment is of kind "data".
	Classify func(from, to string, segment []byte) []string
}

// World is one simulated cluster's network, clocks and disks.
type World struct {
	opt Options

	mu        sync.Mutex
	hosts     map[string]*host // by node name
	byIP      map[string]*host
	listeners map[string]*listener // "ip:port"
	conns     map[*conn]struct{}
	links     map[link]*linkState
	cut       map[link]bool
	fault     LinkFault
	rules     []*Rule
	diskRules []*DiskRule
	// durableCounts are durable writes per file kind (FileKind).
	durableCounts map[string]int
	held          []*segment          // held by Reorder rules
	kinds         map[string][]string // kinds of message each node sent
	counts        map[string]int      // messages sent per kind
	nextPort      int
	nextSeg       uint64
	rng           *rand.Rand // the world's own draws (ports, rules)
	trace         func(Event)
	closed        bool

	// hooks are the goroutines of faults' hooks (Go): Close waits for them.
	hooks sync.WaitGroup
}

// LinkFault degrades links between nodes (as harness.LinkFault).
type LinkFault struct {
	Latency time.Duration
	Jitter  time.Duration
	Loss    float64 // probability that a segment is lost and retransmitted
	Links   map[string][]string
}

type link struct{ from, to string }

// linkState is one direction between two nodes.
type linkState struct {
	rng *rand.Rand
	// waiting are connections whose next segment met the cut: TCP
	// retransmits it, so it arrives after the heal if the connection lives.
	waiting map[*conn]bool
}

// host is a node's machine: its address, disk and current incarnation.
type host struct {
	name string
	ip   string
	disk *disk
	inc  *incarnation // nil while down
	n    int          // incarnations so far
	// clock is the node's; it outlives incarnations (a skew stays).
	clock *clock
}

// New makes a world; it must be called inside a bubble.
func New(opt Options) *World {
	if opt.Latency <= 0 {
		opt.Latency = 500 * time.Microsecond
	}
	return &World{
		opt:           opt,
		hosts:         map[string]*host{},
		byIP:          map[string]*host{},
		listeners:     map[string]*listener{},
		conns:         map[*conn]struct{}{},
		links:         map[link]*linkState{},
		cut:           map[link]bool{},
		kinds:         map[string][]string{},
		counts:        map[string]int{},
		durableCounts: map[string]int{},
		nextPort:      40000,
		rng:           rand.New(rand.NewPCG(uint64(opt.Seed), 0x5157)),
	}
}

// Seed is the world's seed.
func (w *World) Seed() int64 { return w.opt.Seed }

// AddNode gives node a machine at ip (its listeners live there).
func (w *World) AddNode(name, ip string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := &host{name: name, ip: ip, disk: newDisk()}
	h.clock = &clock{w: w, node: name}
	w.hosts[name] = h
	w.byIP[ip] = h
}

// Start boots a new incarnation of node and returns its environment. A
// running incarnation is crashed first.
func (w *World) Start(node string) (env.Env, error) {
	w.Crash(node)
	w.mu.Lock()
	defer w.mu.Unlock()
	h, ok := w.hosts[node]
	if !ok {
		return nil, fmt.Errorf("sim: no node %q", node)
	}
	h.n++
	inc := &incarnation{w: w, host: h, n: h.n,
		rng: rand.New(rand.NewPCG(uint64(w.opt.Seed), hash(node, fmt.Sprint(h.n))))}
	h.inc = inc
	return inc, nil
}

// Crash ends node's incarnation as a power loss would: its connections
// break (the peers' after a delay, as the kernel's reset travels), its
// listeners close, its open files fail, and its disk keeps only what was
// synced. The node's goroutines still run until the caller stops them;
// nothing they do reaches the world any more.
func (w *World) Crash(node string) { w.down(node, true) }

func (w *World) down(node string, crash bool) {
	w.mu.Lock()
	h := w.hosts[node]
	if h == nil || h.inc == nil {
		w.mu.Unlock()
		return
	}
	inc := h.inc
	h.inc = nil
	inc.dead = true
	var lns []*listener
	for addr, l := range w.listeners {
		if l.inc == inc {
			lns = append(lns, l)
			delete(w.listeners, addr)
		}
	}
	var cs []*conn
	for c := range w.conns {
		if c.inc == inc {
			cs = append(cs, c)
		}
	}
	h.clock.resumeLocked() // a crashed node is not paused any more
	w.mu.Unlock()
	h.disk.down(inc, crash)
	for _, l := range lns {
		l.close()
	}
	for _, c := range cs {
		c.crash()
	}
	if crash {
		w.emit(Event{Kind: EventCrash, From: node})
	}
}

// Up tells whether node has a running incarnation.
func (w *World) Up(node string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hosts[node]
	return h != nil && h.inc != nil
}

// Client is the environment of the harness's clients: a host outside the
// cluster whose links are never cut.
func (w *World) Client() env.Network { return clientNet{w} }

// Pause freezes node as SIGSTOP would: its timers do not fire and nothing
// it sends or is sent is delivered until Resume; goroutines already
// running go on (they cannot tell anyone).
func (w *World) Pause(node string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.hosts[node]; h != nil && h.inc != nil {
		h.clock.paused = true
	}
}

// Resume undoes Pause: due timers fire and held segments are delivered.
func (w *World) Resume(node string) {
	w.mu.Lock()
	h := w.hosts[node]
	if h == nil {
		w.mu.Unlock()
		return
	}
	fire := h.clock.resumeLocked()
	held := h.clock.heldConns
	h.clock.heldConns = nil
	w.mu.Unlock()
	for _, f := range fire {
		f()
	}
	for c := range held {
		w.pump(c)
	}
}

// SetClock offsets node's clock from true (virtual) time.
func (w *World) SetClock(node string, offset time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hosts[node]
	if h == nil {
		return fmt.Errorf("sim: no node %q", node)
	}
	h.clock.offset = offset
	return nil
}

// Partition cuts, for each node, the links from the nodes it names
// (harness.Grudge); it replaces any previous cut. Segments on a cut link
// wait, as TCP retransmits, and arrive after the heal if their connection
// is still open.
func (w *World) Partition(grudge map[string][]string) {
	w.mu.Lock()
	w.cut = map[link]bool{}
	for to, froms := range grudge {
		for _, from := range froms {
			w.cut[link{from, to}] = true
		}
	}
	release := w.releaseStalledLocked()
	w.mu.Unlock()
	for _, c := range release {
		w.pump(c)
	}
}

// Degrade sets a link fault (replacing any previous one).
func (w *World) Degrade(f LinkFault) {
	w.mu.Lock()
	w.fault = f
	w.mu.Unlock()
}

// Heal removes cuts and link faults; stalled segments are delivered.
func (w *World) Heal() {
	w.mu.Lock()
	w.cut = map[link]bool{}
	w.fault = LinkFault{}
	release := w.releaseStalledLocked()
	w.mu.Unlock()
	for _, c := range release {
		w.pump(c)
	}
}

func (w *World) releaseStalledLocked() []*conn {
	var out []*conn
	keys := make([]link, 0, len(w.links))
	for l := range w.links {
		keys = append(keys, l)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].from != keys[j].from {
			return keys[i].from < keys[j].from
		}
		return keys[i].to < keys[j].to
	})
	for _, l := range keys {
		ls := w.links[l]
		if w.cut[l] || len(ls.waiting) == 0 {
			continue
		}
		for c := range ls.waiting {
			out = append(out, c)
		}
		ls.waiting = map[*conn]bool{}
	}
	return out
}

// Close breaks every connection and closes every listener, so that every
// goroutine blocked on the network returns and the bubble can end.
func (w *World) Close() {
	w.mu.Lock()
	w.closed = true
	var lns []*listener
	for _, l := range w.listeners {
		lns = append(lns, l)
	}
	w.listeners = map[string]*listener{}
	var cs []*conn
	for c := range w.conns {
		cs = append(cs, c)
	}
	w.mu.Unlock()
	for _, l := range lns {
		l.close()
	}
	for _, c := range cs {
		c.reset(errors.New("simulation closed"))
	}
	w.hooks.Wait()
}

// Go runs f in a goroutine that Close waits for. A fault's hook (restart a
// node it crashed, after a pause) must run so: a bubble's clock stops when
// its main goroutine returns, and a hook still sleeping then would be left
// blocked for good.
// Once Close began, f is not run: the world is over.
func (w *World) Go(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.hooks.Add(1)
	go func() {
		defer w.hooks.Done()
		f()
	}()
}

func (w *World) linkLocked(from, to string) *linkState {
	l := link{from, to}
	ls := w.links[l]
	if ls == nil {
		ls = &linkState{rng: rand.New(rand.NewPCG(uint64(w.opt.Seed), hash(from, to))), waiting: map[*conn]bool{}}
		w.links[l] = ls
	}
	return ls
}

func hash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// SetClassify sets Options.Classify (a deployment learns the system after
// the world exists).
func (w *World) SetClassify(f func(from, to string, segment []byte) []string) {
	w.mu.Lock()
	w.opt.Classify = f
	w.mu.Unlock()
}

// Stop ends node's incarnation cleanly, after its goroutines returned: like
// Crash, except that its disk keeps everything (an orderly exit leaves the
// operating system's page cache to write it).
func (w *World) Stop(node string) { w.down(node, false) }
