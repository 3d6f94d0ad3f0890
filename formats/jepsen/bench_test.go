package jepsen

import (
	"fmt"
	"testing"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// BenchmarkImport10k: reading and judging a 10,000-op history, as gauntlet
// check --format jepsen does (without writing the report), per model.
//
//	go test ./formats/jepsen -run '^$' -bench Import10k -benchtime 5x
func BenchmarkImport10k(b *testing.B) {
	for _, model := range []Model{CASRegister, Register, MultiRegister, Mutex} {
		for _, procs := range []int{5, 10} {
			g := newGen(1, model, procs, model != Mutex)
			g.run(10000)
			g.finish()
			initial := map[Model]string{MultiRegister: "{:x 0 :y 0}", CASRegister: "0", Register: "0"}[model]
			data := []byte(shapes["lines"](g.ops))
			b.Run(fmt.Sprintf("%s/procs=%d", model, procs), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					got, results, err := judge(data, "bench.edn", model, initial, false)
					if err != nil || got != harness.Valid {
						b.Fatalf("%v %v %v", got, err, results)
					}
				}
			})
		}
	}
}
