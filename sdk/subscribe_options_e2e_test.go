//go:build !js

package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk"
)

// seqTable creates app.t with ids from..to, one statement each so that
// every row has its own _seq.
func seqTable(t *testing.T, c *sdk.Client, create bool, from, to int) {
	t.Helper()
	if create {
		mustQuery(t, c, "CREATE NAMESPACE app")
		mustQuery(t, c, "CREATE TABLE app.t (id BIGINT PRIMARY KEY, v TEXT) WITH (TYPE='SHARED')")
	}
	for i := from; i <= to; i++ {
		mustQuery(t, c, fmt.Sprintf("INSERT INTO app.t (id, v) VALUES (%d, 'v%d')", i, i))
	}
}

func rowIDs(t *testing.T, rows []sdk.Row) []int64 {
	t.Helper()
	var ids []int64
	for _, r := range rows {
		id, err := r.Int64("id")
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// snapshot reads InitialRows until Ready; cut, when set, runs once after
// the first batch (a connection lost mid-snapshot).
func snapshot(t *testing.T, ctx context.Context, sub *sdk.Subscription, cut func()) (ids []int64, batches int) {
	t.Helper()
	for ev, err := range sub.Events(ctx) {
		require.NoError(t, err)
		rows, ok := ev.(*sdk.InitialRows)
		if !ok {
			continue
		}
		batches++
		ids = append(ids, rowIDs(t, rows.Rows)...)
		if cut != nil {
			cut()
			cut = nil
		}
		if rows.Ready {
			return ids, batches
		}
	}
	require.FailNow(t, "events ended before the snapshot was ready")
	return nil, 0
}

// nextRowIDs reads events until one carries rows, and returns their ids.
func nextRowIDs(t *testing.T, ctx context.Context, sub *sdk.Subscription) []int64 {
	t.Helper()
	for ev, err := range sub.Events(ctx) {
		require.NoError(t, err)
		switch e := ev.(type) {
		case *sdk.InitialRows:
			if len(e.Rows) > 0 {
				return rowIDs(t, e.Rows)
			}
		case *sdk.Insert:
			return rowIDs(t, e.Rows)
		}
	}
	require.FailNow(t, "events ended before rows arrived")
	return nil
}

func seqOf(t *testing.T, c *sdk.Client, id int) int64 {
	t.Helper()
	res := mustQuery(t, c, fmt.Sprintf("SELECT _seq FROM app.t WHERE id = %d", id))
	require.Len(t, res.Rows(), 1)
	seq, err := res.Rows()[0].Int64("_seq")
	require.NoError(t, err)
	return seq
}

// A normal stop: cancelling the loop's context yields context.Canceled
// once and ends the loop, leaving the subscription usable; Close ends a
// loop with no error.
func TestEventsStop(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	seqTable(t, c, true, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, "SELECT * FROM app.t")
	require.NoError(t, err)
	defer sub.Close()

	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	var errs []error
	for ev, err := range sub.Events(loopCtx) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rows, ok := ev.(*sdk.InitialRows); ok && rows.Ready {
			stop()
		}
	}
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], context.Canceled)

	seqTable(t, c, false, 2, 2)
	require.Equal(t, []int64{2}, nextRowIDs(t, ctx, sub), "the subscription outlives the cancelled loop")

	require.NoError(t, sub.Close())
	n := 0
	for _, err := range sub.Events(ctx) {
		n++
		require.False(t, errors.Is(err, context.Canceled))
	}
	require.Zero(t, n, "a closed subscription's loop yields nothing")
}
