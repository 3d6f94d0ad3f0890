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
		for _, shape := range []string{"procs=5", "procs=10", "independent"} {
			initial := map[Model]string{MultiRegister: "{:x 0 :y 0}", CASRegister: "0", Register: "0"}[model]
			var ops []gop
			if shape == "independent" { // 100 keys of 100 ops, 5 processes each
				var perKey [][]gop
				for k := 0; k < 100; k++ {
					g := newGen(int64(k), model, 5, model != Mutex)
					g.run(100)
					perKey = append(perKey, g.finish())
				}
				ops = independent(perKey)
			} else {
				g := newGen(1, model, map[string]int{"procs=5": 5, "procs=10": 10}[shape], model != Mutex)
				g.run(10000)
				ops = g.finish()
			}
			data := []byte(shapes["lines"](ops))
			b.Run(fmt.Sprintf("%s/%s", model, shape), func(b *testing.B) {
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
