// Package bykey splits a porcupine history into independent keys, as
// Jepsen's independent tests do: porcupine then searches each key alone,
// which is exponentially cheaper than searching them together.
package bykey

import (
	"sort"

	"github.com/anishathalye/porcupine"
)

// Partition returns a porcupine Model.Partition that groups ops by key(op),
// keeping their order within a key; the groups come in key order so that
// searches and their reports are deterministic.
func Partition(key func(porcupine.Operation) string) func([]porcupine.Operation) [][]porcupine.Operation {
	return func(ops []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range ops {
			k := key(op)
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	}
}
