package checkers

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	h "github.com/gauntlet-dev/gauntlet/harness"
)

type fixed struct {
	name string
	v    h.Validity
}

func (f fixed) Name() string { return f.name }
func (f fixed) Check(context.Context, h.CheckInput) h.Result {
	if f.v == "panic" {
		panic("boom")
	}
	return h.Result{Validity: f.v}
}

func TestCompose(t *testing.T) {
	ctx := context.Background()
	v, rs := Compose(ctx, h.CheckInput{}, fixed{"a", h.Valid}, fixed{"b", h.Valid})
	assert.Equal(t, h.Valid, v)
	assert.Len(t, rs, 2)
	assert.Equal(t, "a", rs[0].Checker)

	v, _ = Compose(ctx, h.CheckInput{}, fixed{"a", h.Valid}, fixed{"b", h.Unknown})
	assert.Equal(t, h.Unknown, v)
	v, _ = Compose(ctx, h.CheckInput{}, fixed{"a", h.Invalid}, fixed{"b", h.Unknown})
	assert.Equal(t, h.Invalid, v)
	v, _ = Compose(ctx, h.CheckInput{})
	assert.Equal(t, h.Unknown, v)

	v, rs = Compose(ctx, h.CheckInput{}, fixed{"a", "panic"}, fixed{"b", h.Invalid})
	assert.Equal(t, h.Invalid, v)
	assert.Equal(t, h.Unknown, rs[0].Validity)
	assert.Contains(t, rs[0].Summary, "boom")

	v, rs = Compose(ctx, h.CheckInput{}, fixed{"a", ""})
	assert.Equal(t, h.Unknown, v)
	assert.Equal(t, h.Unknown, rs[0].Validity)
}
