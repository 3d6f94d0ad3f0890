package linearizable

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// chainsExplain words a chain conflict of a key chainsApply accepted, for
// violations that no proof of explainWith names (those are simpler, found
// first): it needs no search, so even a busy register gets its
// explanation at once.
func chainsExplain(kh *keyHist, initial *string, clk clock) (explanation, bool) {
	if !chainsApply(kh, initial) {
		return explanation{}, false
	}
	c := chainsFind(kh, initial)
	rec := func(op int) int { return kh.ops[op].Metadata.(*meta).rec }
	name := func(op int) string { return opName(kh.key, kh.recs[rec(op)]) }
	var text string
	var named []int
	switch c.kind {
	case cNone:
		return explanation{}, false
	case cUnwritten:
		named = []int{c.op}
		text = fmt.Sprintf("%s took effect (its value was observed), but nothing wrote the value it expected, %s",
			name(c.op), showPtr(kh.recs[rec(c.op)].from))
	case cTwoCAS:
		named = []int{c.other, c.op}
		text = fmt.Sprintf("%s and %s both took effect, but %s held %s only once (values are written once, and each cas replaced it)",
			name(c.other), name(c.op), keyName(kh.key), showPtr(kh.recs[rec(c.op)].from))
	case cCycle:
		named = []int{c.op}
		text = fmt.Sprintf("%s took effect, but the values it follows, cas by cas, lead back to it: no write or initial value starts them", name(c.op))
	case cEarlyOp:
		named = []int{c.op, c.other}
		r, o := kh.recs[rec(c.op)], kh.recs[rec(c.other)]
		text = fmt.Sprintf("%s completed %s, but it must follow %s, which only began %s: values are written once, and each cas names the value it replaced, which fixes their order",
			describeRec(kh.key, r), clk.at(r.ret), opName(kh.key, o), clk.at(o.call))
	case cZones:
		named = chainOps(c.a.c, c.b.c)
		text = fmt.Sprintf("%s and %s cannot both be placed: values are written once and each cas names the value it replaced, so each chain holds %s over one stretch of time; %s; %s, which no order allows",
			chainName(kh, c.a.c), chainName(kh, c.b.c), keyName(kh.key), chainHeld(kh, c.a, clk), chainHeld(kh, c.b, clk))
	}
	e := explanation{found: true, ops: len(kh.ops), text: text, time: forever, violator: -1}
	for _, op := range named {
		if op < 0 {
			continue
		}
		ri := rec(op)
		e.named = append(e.named, ri)
		if r := kh.recs[ri]; r.ret > e.time {
			e.time, e.violator = r.ret, ri
		}
	}
	e.named = dedup(e.named)
	return e, e.violator >= 0
}

func chainOps(cs ...*cluster) []int {
	var out []int
	for _, c := range cs {
		out = append(out, c.write, c.first, c.last)
	}
	return out
}

func describeRec(key string, r rec) string {
	if r.kind == kRead {
		return fmt.Sprintf("read of %s returning %s", keyName(key), showPtr(r.value))
	}
	return opName(key, r)
}

// chainName names a chain by the value that starts it.
func chainName(kh *keyHist, c *cluster) string {
	switch {
	case c.write < 0 && c.values > 1:
		return fmt.Sprintf("the values from %s's initial value %s on", keyName(kh.key), showPtr(c.value))
	case c.write < 0:
		return fmt.Sprintf("%s's initial value %s", keyName(kh.key), showPtr(c.value))
	case c.values > 1:
		return fmt.Sprintf("the values from %s on", showPtr(c.value))
	}
	return fmt.Sprintf("the value %s", showPtr(c.value))
}

// chainHeld says over which stretch a chain certainly held the register.
func chainHeld(kh *keyHist, z zone, clk clock) string {
	c := z.c
	rec := func(op int) rec { return kh.recs[kh.ops[op].Metadata.(*meta).rec] }
	from := "from the start"
	if c.first >= 0 {
		from = fmt.Sprintf("from %s (when %s completed)", clk.bare(c.minFinish), describeRec(kh.key, rec(c.first)))
	}
	to := "to the start"
	if c.last >= 0 {
		to = fmt.Sprintf("to %s (when %s began)", clk.bare(c.maxCall), describeRec(kh.key, rec(c.last)))
	}
	if c.minFinish < c.maxCall {
		return fmt.Sprintf("%s held it at least %s %s", chainName(kh, c), from, to)
	}
	return fmt.Sprintf("%s had to be placed whole between %s and %s", chainName(kh, c), clk.bare(c.maxCall), clk.bare(c.minFinish))
}

// chainsInvolved is the ops (that took effect) of the chains the given
// records belong to: a failing busy register's view shows those, which
// hold the violation and which porcupine searches at once, rather than a
// long prefix it cannot. nil if the key has no chain graph.
func chainsInvolved(kh *keyHist, initial *string, recs []int) []porcupine.Operation {
	g, c := buildChainGraph(kh, initial)
	if c.kind != cNone {
		return nil
	}
	head := func(v int) int {
		for steps := 0; steps <= len(kh.ops); steps++ {
			w := g.writer[v]
			if w < 0 || g.from[w] < 0 {
				return v
			}
			v = g.from[w]
		}
		return v
	}
	value := func(j int) int {
		if g.to[j] >= 0 {
			return g.to[j]
		}
		return g.from[j]
	}
	named := map[int]bool{}
	for _, ri := range recs {
		named[ri] = true
	}
	heads := map[int]bool{}
	for j, op := range kh.ops {
		if named[op.Metadata.(*meta).rec] && value(j) >= 0 {
			heads[head(value(j))] = true
		}
	}
	var out []porcupine.Operation
	for j, op := range kh.ops {
		if g.required[j] && value(j) >= 0 && heads[head(value(j))] {
			out = append(out, op)
		}
	}
	return out
}
