package kvnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gauntlet-dev/gauntlet/harness"
	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
	"github.com/gauntlet-dev/gauntlet/systemundertest/client"
	"github.com/gauntlet-dev/gauntlet/systemundertest/quorum"
)

// Client is one worker's connection to one node. It decides ok/fail/info
// from kvnode's error classification (api.ErrNotApplied: certainly not
// applied; anything else: unknown).
type Client struct {
	node string
	c    *client.Client
}

// Invoke performs a read, write or cas.
//
//   - read: ok with the value (nil when absent); fail on any error, since a
//     read changes nothing.
//   - write: ok; fail on ErrNotApplied; info on ErrUnknown or when ctx ended
//     (the request may have been sent).
//   - cas (From -> Value): ok; fail on a mismatch (it certainly did not
//     apply) or ErrNotApplied; info otherwise.
func (c *Client) Invoke(ctx context.Context, op harness.Op) harness.Op {
	op.Node = c.node
	switch op.F {
	case harness.FRead:
		v, found, err := c.c.Get(ctx, op.Key, false)
		if err != nil {
			return failed(op, err)
		}
		done := op.Complete(harness.OK)
		done.Value = nil
		if found {
			done.Value = harness.Str(v)
		}
		return done
	case harness.FWrite:
		if op.Value == nil {
			return refused(op, "write without a value")
		}
		return mutated(ctx, op, c.c.Put(ctx, op.Key, *op.Value))
	case harness.FCAS:
		if op.From == nil || op.Value == nil {
			return refused(op, "cas needs from and value")
		}
		res, err := c.c.CAS(ctx, op.Key, *op.From, *op.Value)
		if err != nil {
			return mutated(ctx, op, err)
		}
		if !res.OK {
			done := op.Complete(harness.Fail)
			if res.Found {
				done.Error = "mismatch: found " + res.Current
			} else {
				done.Error = "mismatch: key absent"
			}
			return done
		}
		return op.Complete(harness.OK)
	default:
		return refused(op, "unsupported operation "+op.F)
	}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.c.Close()
	return nil
}

// refused is an op the client never sent.
func refused(op harness.Op, why string) harness.Op {
	done := op.Complete(harness.Fail)
	done.Error = why
	return done
}

func failed(op harness.Op, err error) harness.Op {
	done := op.Complete(harness.Fail)
	done.Error = err.Error()
	return done
}

// mutated classifies the outcome of a write or cas.
func mutated(ctx context.Context, op harness.Op, err error) harness.Op {
	if err == nil {
		return op.Complete(harness.OK)
	}
	t := harness.Info
	// A cancelled context makes the outcome unknowable even if the client
	// says "not applied" (it may have raced the send); only a definite
	// refusal with a live context is a fail.
	if errors.Is(err, api.ErrNotApplied) && ctx.Err() == nil {
		t = harness.Fail
	}
	done := op.Complete(t)
	done.Error = err.Error()
	return done
}

// repair asks the node at addr for an anti-entropy pass.
func repair(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+quorum.RepairRoute, nil)
	if err != nil {
		return fmt.Errorf("repair %s: %w", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("repair %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var r quorum.RepairResult
		if json.Unmarshal(body, &r) == nil && len(r.Errors) > 0 {
			return fmt.Errorf("repair %s: %s: %d of %d keys failed, first: %s", addr, resp.Status, r.Failed, r.Keys, r.Errors[0])
		}
		return fmt.Errorf("repair %s: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
