package client

import (
	"context"
	"net/http"

	"github.com/gauntlet-dev/gauntlet/systemundertest/api"
)

// Txn is POST /txn: the micro-ops with their reads filled in. A transaction
// refused as a whole (409) is an *api.RefusedError (certainly not applied);
// a failure of a read-only transaction is ErrNotApplied (it changed
// nothing either way), of any other ErrNotApplied or ErrUnknown as for a
// write.
func (c *Client) Txn(ctx context.Context, txn []api.Mop) ([]api.Mop, error) {
	var out struct {
		api.TxnBody
		Error string `json:"error"`
	}
	code, err := c.do(ctx, http.MethodPost, c.base+"/txn", api.TxnBody{Txn: txn}, &out, !api.ReadOnly(txn))
	if err != nil {
		return nil, err
	}
	if code == http.StatusConflict {
		return nil, api.Refused("%s", out.Error)
	}
	return out.Txn, nil
}
