//go:build !js && !wasip1

package sdk_test

// LastRows and FromSeq end to end. The link is cut through the fault
// proxy (native only), so they run on a real server as on the emulator.

import (
	"context"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// LastRows: the snapshot is the newest n rows, oldest first, whatever the
// batch size; after a lost connection the subscription resumes after the
// last row seen instead of sending the n rows again.
func TestLastRowsE2E(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	seqTable(t, c, true, 1, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	proxy, live := proxiedClient(t, srv)
	sub, err := live.Subscribe(ctx, "SELECT * FROM app.t", sdk.LastRows(4), sdk.BatchSize(2))
	require.NoError(t, err)
	defer sub.Close()
	ids, _ := snapshot(t, ctx, sub, nil)
	require.Equal(t, []int64{7, 8, 9, 10}, ids)
	cp, ok := sub.Checkpoint()
	require.True(t, ok)
	require.Equal(t, seqOf(t, c, 10), cp)

	proxy.CutAll()
	seqTable(t, c, false, 11, 11)
	require.Equal(t, []int64{11}, nextRowIDs(t, ctx, sub), "after the reconnect only the new row")
}

// proxiedClient is a client whose connections pass through a fault proxy,
// so a test can cut them on any target, the real server included.
func proxiedClient(t *testing.T, srv *kalamtest.Server) (*kalamtest.Proxy, *sdk.Client) {
	t.Helper()
	p := kalamtest.NewProxy(t, srv.URL)
	c, err := sdk.New(p.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return p, c
}

// FromSeq: only rows after the given _seq, paged in batches; a connection
// lost mid-snapshot loses and repeats nothing; the checkpoint resumes a
// later subscription exactly after what was seen.
func TestFromSeqE2E(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	seqTable(t, c, true, 1, 3)
	after3 := seqOf(t, c, 3)
	seqTable(t, c, false, 4, 9)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	proxy, live := proxiedClient(t, srv)
	sub, err := live.Subscribe(ctx, "SELECT * FROM app.t", sdk.FromSeq(after3), sdk.BatchSize(2))
	require.NoError(t, err)
	ids, batches := snapshot(t, ctx, sub, func() { proxy.CutAll() })
	require.Equal(t, []int64{4, 5, 6, 7, 8, 9}, ids, "each row after the checkpoint exactly once")
	require.GreaterOrEqual(t, batches, 3, "six rows in batches of two")
	cp, ok := sub.Checkpoint()
	require.True(t, ok)
	require.Equal(t, seqOf(t, c, 9), cp)
	require.NoError(t, sub.Close())

	seqTable(t, c, false, 10, 11)
	again, err := c.Subscribe(ctx, "SELECT * FROM app.t", sdk.FromSeq(cp), sdk.BatchSize(2))
	require.NoError(t, err)
	defer again.Close()
	ids, _ = snapshot(t, ctx, again, nil)
	require.Equal(t, []int64{10, 11}, ids, "resumed after the checkpoint")
}
