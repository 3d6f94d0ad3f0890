package guard

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/gauntlet-dev/gauntlet/checkers/mutex"
	"github.com/gauntlet-dev/gauntlet/harness"
)

func hold(ms string) harness.Op {
	return harness.Op{Type: harness.Invoke, F: FHold, Key: "L", Value: harness.Str(ms)}
}

func TestWork(t *testing.T) {
	assert.Equal(t, mutex.FHold, FHold)
	ctx := context.Background()
	far := time.Now().Add(time.Hour)

	assert.Equal(t, harness.OK, Work(ctx, hold("5"), far, true, "7").Type)

	done := Work(ctx, hold("5"), far, false, "7")
	assert.Equal(t, harness.Fail, done.Type, "no valid lease: no work")
	assert.Contains(t, done.Error, "token 7")

	done = Work(ctx, hold("60000"), time.Now().Add(time.Second), true, "7")
	assert.Equal(t, harness.Fail, done.Type, "work longer than the lease left: none done")
	assert.Contains(t, done.Error, "did none")

	assert.Equal(t, harness.Fail, Work(ctx, hold("soon"), far, true, "7").Type)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.Equal(t, harness.Info, Work(cctx, hold("50"), far, true, "7").Type, "cut short: the client cannot vouch for it")
}
