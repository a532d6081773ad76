//go:build !js

package realtime

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/kalamstack/kalam-go/transport/mock"
)

// An idle subscription keeps no side state: the snapshot's paging and held
// changes, and a stall probe that found no stall, release it, so thousands
// of idle subscriptions cost only their packed Sub.
func TestIdleSubscriptionReleasesSideState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := fakews.New()
	for _, id := range []string{"a", "b", "c"} {
		srv.Insert("app.t", id, map[string]any{"body": id})
	}
	m := New(Config{Transport: mock.New(srv), URL: "ws://kalam.test/v1/ws", HeaderAuth: true,
		Token:        func(context.Context, bool, bool) (string, error) { return "tok", nil },
		ReconnectMin: time.Millisecond, ReconnectMax: time.Millisecond})
	defer m.Close()

	snap, err := m.Subscribe(ctx, "SELECT * FROM app.t", SubOptions{BatchSize: 1})
	require.NoError(t, err)
	live, err := m.Subscribe(ctx, "SELECT * FROM app.t", SubOptions{LiveOnly: true})
	require.NoError(t, err)
	rows := 0
	for rows < 3 { // three one-row pages, each asked for with next_batch
		d, err := snap.Next(ctx)
		require.NoError(t, err)
		require.NoError(t, d.Err)
		if d.Msg.Type == TypeInitialBatch {
			rows += len(d.Msg.Rows)
		}
	}
	require.Equal(t, SubLive, snap.State()) // the last page said ready

	snap.mu.Lock()
	require.Nil(t, snap.x, "side state kept after the snapshot loaded")
	snap.mu.Unlock()
	live.mu.Lock()
	require.Nil(t, live.x, "a live-only subscription allocated side state")
	live.mu.Unlock()

	// A probe notes the checkpoint in the side state, and a timely pong
	// lets it go again.
	m.mu.Lock()
	lc := m.conn
	m.mu.Unlock()
	snap.beginProbe()
	snap.mu.Lock()
	require.NotNil(t, snap.x)
	require.NotNil(t, snap.x.probeSeen)
	snap.mu.Unlock()
	require.False(t, snap.endProbe(lc, false))
	snap.mu.Lock()
	require.Nil(t, snap.x, "side state kept after a probe without a stall")
	snap.mu.Unlock()
}
