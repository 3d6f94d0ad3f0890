package isolation

import (
	"context"
	"slices"
)

// The dependency graph. Nodes [0, real) are transactions; the rest are
// virtual nodes that stand for a set of edges so that the graph stays linear
// in the history: real-time barriers (every transaction completed before a
// barrier precedes every transaction invoked after it) and fans (every
// reader of a state precedes every writer of a later version). An edge out
// of a virtual node is a pass edge: it carries the kind of the edge into it.

// Edge kinds (bits).
const (
	kWW   uint8 = 1 << iota // write-write: a version order
	kWR                     // write-read: a read of what was written
	kRW                     // read-write: an anti-dependency
	kProc                   // process (session) order
	kRT                     // real-time order
	kPass                   // out of a virtual node
	// kRC marks a ww or rw edge inferred from a transaction that read a
	// register and then wrote it: its version order holds from read
	// committed up (see rwregister.go).
	kRC
)

const (
	kData = kWW | kWR | kRW
	kAll  = kData | kProc | kRT
)

// edges collects edges before the graph is laid out.
type edges struct {
	ft   []uint64 // from<<32 | to
	kind []uint8
}

func (e *edges) add(from, to int32, k uint8) {
	if from == to || from < 0 || to < 0 {
		return
	}
	e.ft = append(e.ft, uint64(uint32(from))<<32|uint64(uint32(to)))
	e.kind = append(e.kind, k)
}

// graph is a compressed adjacency (CSR) of the edges.
type graph struct {
	n, real int
	off     []int32 // node v's edges are to[off[v]:off[v+1]]
	to      []int32
	kind    []uint8
}

// build lays out n nodes' edges; e is consumed.
func build(n, real int, e *edges) *graph {
	g := &graph{n: n, real: real, off: make([]int32, n+1), to: make([]int32, len(e.ft)), kind: make([]uint8, len(e.ft))}
	for _, ft := range e.ft {
		g.off[int32(ft>>32)+1]++
	}
	for v := 0; v < n; v++ {
		g.off[v+1] += g.off[v]
	}
	fill := slices.Clone(g.off[:n])
	for i, ft := range e.ft {
		from := int32(ft >> 32)
		j := fill[from]
		fill[from]++
		g.to[j] = int32(uint32(ft))
		g.kind[j] = e.kind[i]
	}
	e.ft, e.kind = nil, nil
	return g
}

func (g *graph) edgeCount() int { return len(g.to) }

// allowed says whether an edge of kind k is followed under mask.
func allowed(k, mask uint8) bool { return k&(mask|kPass) != 0 }

// tarjan finds strongly connected components with an explicit stack (a
// million nodes would overflow a recursive one). Only components of two
// or more nodes are returned.
type tarjan struct {
	idx, low []int32
	on       []bool
	stack    []int32
	call     []frame
}

type frame struct{ v, e int32 }

func newTarjan(n int) *tarjan {
	t := &tarjan{idx: make([]int32, n), low: make([]int32, n), on: make([]bool, n)}
	for i := range t.idx {
		t.idx[i] = -1
	}
	return t
}

// run finds the components of g restricted to mask. It checks ctx every
// so often and returns its error.
func (t *tarjan) run(ctx context.Context, g *graph, mask uint8) ([][]int32, error) {
	var out [][]int32
	counter := int32(0)
	steps := 0
	for r := int32(0); r < int32(g.n); r++ {
		if t.idx[r] != -1 {
			continue
		}
		t.visit(r, g.off[r], &counter)
		for len(t.call) > 0 {
			if steps++; steps&0xfffff == 0 && ctx.Err() != nil {
				return nil, ctx.Err()
			}
			f := &t.call[len(t.call)-1]
			v := f.v
			if f.e < g.off[v+1] {
				e := f.e
				f.e++
				if !allowed(g.kind[e], mask) {
					continue
				}
				w := g.to[e]
				if t.idx[w] == -1 {
					t.visit(w, g.off[w], &counter)
				} else if t.on[w] && t.idx[w] < t.low[v] {
					t.low[v] = t.idx[w]
				}
				continue
			}
			t.call = t.call[:len(t.call)-1]
			if t.low[v] == t.idx[v] {
				i := len(t.stack) - 1
				for t.stack[i] != v {
					i--
				}
				comp := t.stack[i:]
				for _, w := range comp {
					t.on[w] = false
				}
				if len(comp) > 1 {
					out = append(out, slices.Clone(comp))
				}
				t.stack = t.stack[:i]
			}
			if len(t.call) > 0 {
				p := t.call[len(t.call)-1].v
				if t.low[v] < t.low[p] {
					t.low[p] = t.low[v]
				}
			}
		}
	}
	return out, nil
}

func (t *tarjan) visit(v, start int32, counter *int32) {
	t.idx[v], t.low[v] = *counter, *counter
	*counter++
	t.stack = append(t.stack, v)
	t.on[v] = true
	t.call = append(t.call, frame{v: v, e: start})
}

// sub is the subgraph induced by one component, with local node numbers,
// on which the cycle searches run (forward and reverse adjacency).
type sub struct {
	g      *graph // local
	rev    *graph // local, reversed
	global []int32
	real   []bool
}

// induce extracts the subgraph of g on nodes (local ids follow their order).
// local is scratch of g.n entries, -1 everywhere, and is left so.
func induce(g *graph, nodes []int32, local []int32) *sub {
	for i, v := range nodes {
		local[v] = int32(i)
	}
	var fwd, rev edges
	for _, v := range nodes {
		for e := g.off[v]; e < g.off[v+1]; e++ {
			if w := local[g.to[e]]; w >= 0 {
				fwd.add(local[v], w, g.kind[e])
				rev.add(w, local[v], g.kind[e])
			}
		}
	}
	s := &sub{global: slices.Clone(nodes), real: make([]bool, len(nodes))}
	for i, v := range nodes {
		s.real[i] = int(v) < g.real
		local[v] = -1
	}
	s.g = build(len(nodes), len(nodes), &fwd)
	s.rev = build(len(nodes), len(nodes), &rev)
	return s
}

// restrict returns the components (two or more nodes, local ids) of the
// subgraph's edges in mask.
func (s *sub) restrict(ctx context.Context, mask uint8) ([][]int32, error) {
	return newTarjan(s.g.n).run(ctx, s.g, mask)
}
