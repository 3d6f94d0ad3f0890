package wire

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gauntlet-dev/gauntlet/harness"
)

func kindOp(kind, f string, v *string) harness.Op {
	return harness.Op{Process: 1, Type: harness.Invoke, F: f, Key: "k", Kind: kind, Value: v}
}

func TestSetAndCounterOps(t *testing.T) {
	ctx := context.Background()
	c, got := node(t, 200, `{}`)
	done := c.Invoke(ctx, kindOp(harness.KindSet, harness.FAdd, harness.Str("17")))
	assert.Equal(t, harness.OK, done.Type, done.Error)
	assert.JSONEq(t, `{"element":"17"}`, *got)

	done = c.Invoke(ctx, kindOp(harness.KindCounter, harness.FAdd, harness.Str("-4")))
	assert.Equal(t, harness.OK, done.Type, done.Error)
	assert.Contains(t, *got, `"delta":-4`)
	assert.Regexp(t, `"id":"[0-9a-f]{32}"`, *got)

	c, _ = node(t, 200, `{"elements":["3",4]}`)
	done = c.Invoke(ctx, kindOp(harness.KindSet, harness.FRead, nil))
	require.Equal(t, harness.Fail, done.Type, "4 is not a string: the answer is not trusted")
	c, _ = node(t, 200, `{"elements":["3","4"]}`)
	done = c.Invoke(ctx, kindOp(harness.KindSet, harness.FRead, nil))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, `["3","4"]`, *done.Value)
	assert.Equal(t, "n1", done.Node)

	c, _ = node(t, 200, `{"value":12}`)
	done = c.Invoke(ctx, kindOp(harness.KindCounter, harness.FRead, nil))
	require.Equal(t, harness.OK, done.Type, done.Error)
	assert.Equal(t, "12", *done.Value)
	c, _ = node(t, 200, `{}`)
	done = c.Invoke(ctx, kindOp(harness.KindCounter, harness.FRead, nil))
	assert.Equal(t, harness.Fail, done.Type, "no value: not trusted")

	done = c.Invoke(ctx, kindOp(harness.KindCounter, harness.FAdd, harness.Str("x")))
	assert.Equal(t, harness.Fail, done.Type)
	assert.Contains(t, done.Error, "not an integer")
	done = c.Invoke(ctx, kindOp(harness.KindSet, harness.FWrite, harness.Str("x")))
	assert.Equal(t, harness.Fail, done.Type)

	// A store that lacks them says so: certainly not applied.
	c, _ = node(t, 501, `{"error":"this mode has no sets"}`)
	done = c.Invoke(ctx, kindOp(harness.KindSet, harness.FAdd, harness.Str("1")))
	assert.Equal(t, harness.Fail, done.Type)
	assert.Contains(t, done.Error, "this mode has no sets")
	c, _ = node(t, 504, `{"error":"lost"}`)
	done = c.Invoke(ctx, kindOp(harness.KindSet, harness.FAdd, harness.Str("1")))
	assert.Equal(t, harness.Info, done.Type)
}
