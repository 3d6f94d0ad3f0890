package isolation

import (
	"fmt"
	"strconv"
)

// Keys and values become small integers as they are read, so that a
// million-transaction history is held in flat arrays rather than strings and
// maps. A value that is a canonical non-negative decimal (every value our
// workloads and Elle's write) is its own code; any other text is interned.

const (
	valueBits = 39
	maxDirect = 1<<valueBits - 1 // decimal values up to this are their own code
	// nilValue is a register read of an absent key (the initial state).
	nilValue int64 = -1
	// noValue marks "nothing": the last element of an empty list read.
	noValue int64 = -2
	maxKeys       = 1 << 24
)

type interner struct {
	keys    []string
	keyIDs  map[string]int32
	strVals []string // interned non-decimal values; code = maxDirect+1+i
	valIDs  map[string]int64
}

func newInterner() *interner {
	return &interner{keyIDs: map[string]int32{}, valIDs: map[string]int64{}}
}

func (in *interner) key(s string) (int32, error) {
	if id, ok := in.keyIDs[s]; ok {
		return id, nil
	}
	if len(in.keys) >= maxKeys {
		return 0, fmt.Errorf("more than %d distinct keys", maxKeys)
	}
	id := int32(len(in.keys))
	in.keys = append(in.keys, s)
	in.keyIDs[s] = id
	return id, nil
}

// keyBytes is key without an allocation when the key is known.
func (in *interner) keyBytes(b []byte) (int32, error) {
	if id, ok := in.keyIDs[string(b)]; ok {
		return id, nil
	}
	return in.key(string(b))
}

// valueBytes is value without an allocation when the value is a decimal or
// known.
func (in *interner) valueBytes(b []byte) int64 {
	if n, ok := decimal(b); ok {
		return n
	}
	if id, ok := in.valIDs[string(b)]; ok {
		return id
	}
	return in.value(string(b))
}

// value codes a value. Decimal text without a sign or leading zeros, as
// strconv writes it, is its own code.
func (in *interner) value(s string) int64 {
	if n, ok := decimal(s); ok {
		return n
	}
	if id, ok := in.valIDs[s]; ok {
		return id
	}
	id := int64(maxDirect + 1 + len(in.strVals))
	in.strVals = append(in.strVals, s)
	in.valIDs[s] = id
	return id
}

// decimal parses canonical decimal text up to maxDirect.
func decimal[T string | []byte](s T) (int64, bool) {
	if len(s) == 0 || len(s) > 12 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n > maxDirect {
		return 0, false
	}
	return n, true
}

// text renders a value code as it was written.
func (in *interner) text(v int64) string {
	switch {
	case v == nilValue:
		return "nil"
	case v < 0:
		return "?"
	case v <= maxDirect:
		return strconv.FormatInt(v, 10)
	default:
		return in.strVals[v-maxDirect-1]
	}
}

// pack makes one table key of a key and a value code.
func pack(k int32, v int64) uint64 { return uint64(k)<<40 | uint64(v)&(1<<40-1) }

// kvTable maps (key, value) to facts about the write of that value: an
// open-addressing hash table with linear probing, 16 bytes a slot, no
// pointers for the collector to scan.
type kvTable struct {
	slots []kvSlot
	n     int
}

type kvSlot struct {
	k uint64 // pack(key, value) + 1; 0 marks an empty slot
	e kvEntry
}

// kvEntry is what is known of one written value.
type kvEntry struct {
	writer int32 // the transaction that wrote it; dupWriter if several did
	mop    int32 // the micro-op (global index) that wrote it
	pos    int32 // list-append: its position in the key's version order; -1 unobserved
	vnode  int32 // rw-register: its node in the version graph; -1 none
}

const dupWriter = -2

func newKVTable(hint int) *kvTable {
	size := 1024
	for size < hint*2 {
		size <<= 1
	}
	return &kvTable{slots: make([]kvSlot, size)}
}

func hash64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// get returns the entry of k, or nil.
func (t *kvTable) get(k uint64) *kvEntry {
	mask := uint64(len(t.slots) - 1)
	k++
	for i := hash64(k) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.k == k {
			return &s.e
		}
		if s.k == 0 {
			return nil
		}
	}
}

// put returns the entry of k, adding an empty one (fresh true) if absent.
func (t *kvTable) put(k uint64) (e *kvEntry, fresh bool) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	k++
	for i := hash64(k) & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.k == k {
			return &s.e, false
		}
		if s.k == 0 {
			s.k = k
			s.e = kvEntry{writer: -1, mop: -1, pos: -1, vnode: -1}
			t.n++
			return &s.e, true
		}
	}
}

func (t *kvTable) grow() {
	old := t.slots
	t.slots = make([]kvSlot, len(old)*2)
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.k == 0 {
			continue
		}
		i := hash64(s.k) & mask
		for t.slots[i].k != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
