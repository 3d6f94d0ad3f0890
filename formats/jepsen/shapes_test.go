package jepsen

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

// shapes render the same ops in every layout real history files have.
var shapes = map[string]func([]gop) string{
	"lines": func(ops []gop) string { return joinOps(ops, "\n", opMap) + "\n" },
	"vector": func(ops []gop) string {
		return "[" + joinOps(ops, "\n ", opMap) + "]\n"
	},
	"list": func(ops []gop) string { return "(" + joinOps(ops, "\n ", opMap) + ")" },
	"pretty": func(ops []gop) string {
		return "[" + joinOps(ops, "\n ", func(i int, o gop) string {
			return strings.ReplaceAll(opMap(i, o), ", ", "\n  ")
		}) + "]"
	},
	"tagged": func(ops []gop) string {
		return joinOps(ops, "\n", func(i int, o gop) string { return "#jepsen.history.Op" + opMap(i, o) })
	},
	"commented": func(ops []gop) string {
		return ";; a generated history\n; with comments\n" + joinOps(ops, "\n", func(i int, o gop) string {
			s := opMap(i, o)
			if i%3 == 0 {
				s = "#_{:process 77, :type :ok, :f :read, :value 123456} " + s + " ; op " + fmt.Sprint(i)
			}
			if i%4 == 1 {
				s = strings.Replace(s, ", :f", ",\n  :f", 1) // one map over two lines
			}
			return s
		})
	},
	"log": func(ops []gop) string {
		return joinOps(ops, "\n", func(_ int, o gop) string {
			return fmt.Sprintf("INFO  [2016-01-01 00:00:00] jepsen.util - %d\t:%s\t:%s\t%s", o.process, o.typ, o.f, o.value)
		}) + "\n"
	},
	"history.txt": func(ops []gop) string {
		return joinOps(ops, "\n", func(_ int, o gop) string {
			return fmt.Sprintf("%d\t:%s\t:%s\t%s", o.process, o.typ, o.f, o.value)
		}) + "\n"
	},
}

func opMap(i int, o gop) string {
	return fmt.Sprintf("{:index %d, :time %d, :type :%s, :process %d, :f :%s, :value %s}", i, i*1000, o.typ, o.process, o.f, o.value)
}

func joinOps(ops []gop, sep string, f func(int, gop) string) string {
	parts := make([]string, len(ops))
	for i, o := range ops {
		parts[i] = f(i, o)
	}
	return strings.Join(parts, sep)
}

type generated struct {
	name    string
	model   Model
	initial string
	valid   bool
	ops     []gop
}

// generatedCorpus: per model, histories from several seeds, valid and broken.
func generatedCorpus(seeds int, size int) []generated {
	var out []generated
	for _, model := range []Model{CASRegister, Register, MultiRegister, Mutex} {
		for seed := 0; seed < seeds; seed++ {
			for _, valid := range []bool{true, false} {
				withInitial := seed%2 == 1 && model != Mutex
				g := newGen(int64(seed), model, 2+seed%4, withInitial)
				g.run(size)
				g.finish()
				if !valid {
					g.breakIt()
				}
				initial := ""
				if withInitial {
					initial = map[Model]string{MultiRegister: "{:x 0 :y 0}"}[model]
					if initial == "" {
						initial = "0"
					}
				}
				out = append(out, generated{fmt.Sprintf("%s-seed%d-valid=%t", model, seed, valid), model, initial, valid, g.ops})
			}
		}
	}
	return out
}

// TestGeneratedCorpusInEveryShape: each generated history gets its label in
// every shape, and every shape decodes to the same ops.
func TestGeneratedCorpusInEveryShape(t *testing.T) {
	hs := generatedCorpus(6, 40)
	require.Len(t, hs, 48)
	for _, g := range hs {
		want := harness.Invalid
		if g.valid {
			want = harness.Valid
		}
		var first harness.History
		for shape, render := range shapes {
			data := []byte(render(g.ops))
			got, results, err := judge(data, g.name+"."+shape, g.model, g.initial, false)
			require.NoError(t, err, "%s as %s:\n%s", g.name, shape, data)
			assert.Equal(t, want, got, "%s as %s: %v\n%s", g.name, shape, results, data)
			h, err := Decode(strings.NewReader(string(data)), shape, "", g.model)
			require.NoError(t, err)
			for i := range h {
				h[i].Index, h[i].Time = 0, 0
			}
			if first == nil {
				first = h
			} else {
				assert.Equal(t, first, h, "%s: %s decodes differently", g.name, shape)
			}
		}
	}
}
