package mutex

import (
	"sort"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// fencing judges the tokens of the holds that carry one: two grants with
// one token, and a grant invoked after another completed that got a token
// no larger. It also counts the guarded ops a resource that checks tokens
// would refuse (a holder's work after work with a larger token was done).
func fencing(holds []Hold) (out []harness.Anomaly, refused, tokens int) {
	byKey := map[string][]int{}
	var keys []string
	for i, h := range holds {
		if !h.HasToken {
			continue
		}
		tokens++
		if _, ok := byKey[h.Key]; !ok {
			keys = append(keys, h.Key)
		}
		byKey[h.Key] = append(byKey[h.Key], i)
	}
	for _, k := range keys {
		idx := byKey[k] // sorted by start
		first := map[uint64]int{}
		for _, i := range idx {
			if j, dup := first[holds[i].Token]; dup {
				out = append(out, sameToken(holds[j], holds[i]))
				continue
			}
			first[holds[i].Token] = i
		}
		// Increasing in grant order: sweep the acquires by invocation,
		// keeping the largest token of the holds begun before it.
		byInvoke := append([]int(nil), idx...)
		sort.SliceStable(byInvoke, func(a, b int) bool { return holds[byInvoke[a]].Invoke < holds[byInvoke[b]].Invoke })
		best, next := -1, 0
		for _, i := range byInvoke {
			for ; next < len(idx) && holds[idx[next]].Start < holds[i].Invoke; next++ {
				if j := idx[next]; best < 0 || holds[j].Token > holds[best].Token {
					best = j
				}
			}
			if best >= 0 && holds[i].Token < holds[best].Token {
				out = append(out, staleToken(holds[best], holds[i]))
			}
		}
		refused += fenced(holds, idx)
	}
	return out, refused, tokens
}

// fenced counts the guarded ops a resource would refuse if it kept the
// highest token of the work it has seen completed and refused lower ones.
func fenced(holds []Hold, idx []int) int {
	type work struct {
		inv, done int64
		token     uint64
	}
	var ws []work
	for _, i := range idx {
		for _, g := range holds[i].Guarded {
			ws = append(ws, work{g[0], g[1], holds[i].Token})
		}
	}
	byDone := append([]work(nil), ws...)
	sort.SliceStable(ws, func(a, b int) bool { return ws[a].inv < ws[b].inv })
	sort.SliceStable(byDone, func(a, b int) bool { return byDone[a].done < byDone[b].done })
	var high uint64
	seen, n := false, 0
	next := 0
	for _, w := range ws {
		for ; next < len(byDone) && byDone[next].done < w.inv; next++ {
			if !seen || byDone[next].token > high {
				high, seen = byDone[next].token, true
			}
		}
		if seen && w.token < high {
			n++
		}
	}
	return n
}
