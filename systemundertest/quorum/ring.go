package quorum

import (
	"hash/fnv"
	"sort"
	"strconv"
)

// ring is a consistent-hash ring with virtual nodes: each member owns VNodes
// points, and a key's replicas are the first N distinct members clockwise
// from the key's hash. Virtual nodes spread the keys evenly over few members.
type ring struct {
	points  []uint64
	owner   map[uint64]string
	members int
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	// fnv's low bits mix poorly for short, similar strings; finalize (splitmix64).
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func newRing(members []string, vnodes int) *ring {
	r := &ring{owner: make(map[uint64]string, len(members)*vnodes), members: len(members)}
	for _, m := range members {
		for i := range vnodes {
			p := hash64(m + "#" + strconv.Itoa(i))
			if _, taken := r.owner[p]; taken {
				continue // astronomically rare; first owner keeps the point
			}
			r.owner[p] = m
			r.points = append(r.points, p)
		}
	}
	sort.Slice(r.points, func(i, j int) bool { return r.points[i] < r.points[j] })
	return r
}

// preference returns every member in ring order starting at key's position:
// the first N are the key's replicas, the rest are what a sloppy quorum
// falls back to.
func (r *ring) preference(key string) []string {
	if len(r.points) == 0 {
		return nil
	}
	h := hash64(key)
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i] >= h })
	out := make([]string, 0, r.members)
	seen := make(map[string]bool, r.members)
	for j := 0; j < len(r.points) && len(out) < r.members; j++ {
		m := r.owner[r.points[(i+j)%len(r.points)]]
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
