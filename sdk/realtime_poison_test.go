//go:build !js

package sdk_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nextErr reads events until the subscription ends, and returns its error.
func nextErr(t *testing.T, sub *sdk.Subscription) error {
	t.Helper()
	ctx := waitCtx(t)
	for {
		_, err := sub.Next(ctx)
		if err != nil && !errors.Is(err, sdk.ErrOverflow) {
			require.NoError(t, ctx.Err(), "the subscription never ended: a poison frame loops")
			return err
		}
	}
}

// issue 9 item 7: a frame that names its subscription but cannot be
// decoded ends that subscription with ErrBadMessage; the connection, and
// the other subscriptions on it, go on.
func TestUndecodableFrameEndsItsSubscription(t *testing.T) {
	srv := fakews.New()
	srv.Rewrite = func(p []byte) []byte {
		if bytes.Contains(p, []byte(`"poison"`)) {
			return bytes.Replace(p, []byte(`"poison"`), []byte(`"poison"!`), 1) // invalid JSON after the id
		}
		return p
	}
	c, _ := rtClient(t, srv)
	srv.Insert("app.bad", "ok", map[string]any{"body": "fine"})
	srv.Insert("app.good", "g1", map[string]any{"body": "fine"})
	bad, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.bad")
	require.NoError(t, err)
	good, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.good")
	require.NoError(t, err)
	s := newSeen(t)
	s.read(bad, s.has("ok"))
	s.read(good, s.has("g1"))

	srv.Insert("app.bad", "poison", map[string]any{"body": "x"})
	err = nextErr(t, bad)
	require.ErrorIs(t, err, sdk.ErrBadMessage)

	srv.Insert("app.good", "g2", map[string]any{"body": "fine"})
	s.read(good, s.has("g2"))
	assert.Equal(t, 1, srv.Dials(), "no reconnect for a frame pinned on one subscription")
}

// issue 9 item 7: a frame that cannot be decoded nor pinned on a
// subscription, and comes back after every resume, ends the subscription
// instead of reconnecting forever; and such connections count toward the
// reconnect limit although their dial succeeded.
func TestUnattributablePoisonFrameDoesNotLoop(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
		want  error
	}{
		{"unlimited reconnects", 0, sdk.ErrBadMessage},
		{"reconnect limit", 1, sdk.ErrConnectionLost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakews.New()
			srv.Rewrite = func(p []byte) []byte {
				if bytes.Contains(p, []byte(`"poison"`)) {
					return []byte(`{"type":`) // truncated: not even the id is left
				}
				return p
			}
			c, _ := rtClient(t, srv, sdk.WithReconnect(time.Millisecond, 5*time.Millisecond, tc.limit))
			srv.Insert("app.t", "ok", map[string]any{"body": "fine"})
			sub, err := c.Subscribe(waitCtx(t), "SELECT * FROM app.t")
			require.NoError(t, err)
			s := newSeen(t)
			s.read(sub, s.has("ok"))
			srv.Insert("app.t", "poison", map[string]any{"body": "x"})
			err = nextErr(t, sub)
			require.ErrorIs(t, err, tc.want)
			assert.LessOrEqual(t, srv.Dials(), 5, "bounded reconnects")
		})
	}
}
