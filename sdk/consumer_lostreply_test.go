//go:build !js

package sdk_test

// A lost consume reply over the real wire (net/http underneath, hence not
// under GOOS=js).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/transport"
	kalamhttp "github.com/kalamstack/kalam-go/transport/http"
	"github.com/stretchr/testify/require"
)

// lossyTransport delivers requests to the server but loses the reply of
// the next consume asking for `limit` records, as a connection reset
// after the server answered would.
type lossyTransport struct {
	transport.Transport
	mu    sync.Mutex
	lose  int    // replies still to lose
	match string // a request body fragment that selects them
	lost  int
}

func (l *lossyTransport) Do(ctx context.Context, req *transport.Request) (*transport.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		r := *req
		r.Body = bytes.NewReader(body)
		req = &r
	}
	resp, err := l.Transport.Do(ctx, req)
	if err != nil {
		return resp, err
	}
	l.mu.Lock()
	drop := l.lose > 0 && strings.HasSuffix(req.URL, "/v1/api/topics/consume") && bytes.Contains(body, []byte(l.match))
	if drop {
		l.lose--
		l.lost++
	}
	l.mu.Unlock()
	if !drop {
		return resp, nil
	}
	io.Copy(io.Discard, resp.Body) // the server finished the exchange
	resp.Body.Close()
	return nil, fmt.Errorf("lossy transport: reply lost: %w", syscall.ECONNRESET)
}

// Issue 9 item 5: the server claims 0..4 but its reply is lost. The
// consumer must not commit 5..9 over them, and receives them once the
// claim expires.
func TestConsumerLostConsumeReplyIsNotSkipped(t *testing.T) {
	srv, c := topicEnv(t)
	insertOrders(t, c, 0, 10)
	lossy := &lossyTransport{Transport: kalamhttp.New(nil), lose: 1, match: `"limit":5`}
	lc, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword), sdk.WithTransport(lossy))
	require.NoError(t, err)
	t.Cleanup(func() { lc.Close() })
	k := newConsumer(t, lc, sdk.ConsumerConfig{Group: "g", AutoOffsetReset: sdk.Earliest, ManualCommit: true, MaxPollRecords: 5, PollTimeout: 5 * time.Second})
	sdk.SetConsumerPacing(k, time.Millisecond, time.Millisecond)

	got := pollN(t, k, 5)
	require.Equal(t, 1, lossy.lost, "one reply was lost")
	require.Equal(t, span(5, 10), offsetsOf(got), "the retry is answered past the lost claim")
	markAll(t, k, got)
	_, err = k.Commit(context.Background())
	require.NoError(t, err)
	_, ok := committedOffset(t, c, "g")
	require.False(t, ok, "committed past the records of the lost reply")

	srv.NeedEmulator(t, "clock").Advance(visibilityTimeout + time.Second)
	got = pollN(t, k, 5)
	require.Equal(t, span(0, 5), offsetsOf(got))
	markAll(t, k, got)
	res, err := k.Commit(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 9, res.Offset)
}
