//go:build !js

package sdk_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/sdk"
	kalamhttp "github.com/kalamstack/kalam-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loginRoute is the emulator's traffic key for a login.
const loginRoute = "POST /v1/api/auth/login"

// issue 9 item 8: a wrong password on the realtime path is tried once, not
// retried into the server's lockout, and the error says why at once.
func TestRealtimeWrongPasswordNotRetried(t *testing.T) {
	srv := kalamtest.NewServer(t)
	bad, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, "wrong-password"),
		sdk.WithReconnect(time.Millisecond, 5*time.Millisecond, 0))
	require.NoError(t, err)
	defer bad.Close()

	// The deadline is far beyond anything the failure needs: a retry loop
	// would use all of it and end with a deadline error instead.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = bad.Subscribe(ctx, "SELECT * FROM app.items")
	require.Error(t, err)
	assert.ErrorIs(t, err, sdk.ErrInvalidCredentials)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.NoError(t, ctx.Err(), "Subscribe must fail before its deadline")
	assert.EqualValues(t, 1, srv.Emulator.Traffic().ByRoute[loginRoute], "exactly one login attempt")

	err = bad.Connect(ctx)
	assert.ErrorIs(t, err, sdk.ErrInvalidCredentials)
	assert.EqualValues(t, 1, srv.Emulator.Traffic().ByRoute[loginRoute], "a refused password is not sent again")

	good, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
	require.NoError(t, err)
	defer good.Close()
	mustQuery(t, good, "CREATE NAMESPACE IF NOT EXISTS app")
	mustQuery(t, good, "CREATE TABLE app.items (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE = 'SHARED')")
	sub, err := good.Subscribe(waitCtx(t), "SELECT * FROM app.items")
	require.NoError(t, err, "the account must not be locked")
	require.NoError(t, sub.Close())
}

// issue 9 item 8: a static token the server refuses fails Subscribe and
// Connect at once, as it fails Query.
func TestRealtimeRejectedStaticTokenFailsAtOnce(t *testing.T) {
	srv := kalamtest.NewServer(t)
	for _, name := range []string{"header", "message"} {
		t.Run(name, func(t *testing.T) {
			opts := []sdk.Option{sdk.WithToken("not-a-valid-token"), sdk.WithReconnect(time.Millisecond, 5*time.Millisecond, 0)}
			if name == "message" {
				opts = append(opts, sdk.WithTransport(browserTransport{kalamhttp.New(nil)}))
			}
			c, err := sdk.New(srv.URL, opts...)
			require.NoError(t, err)
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = c.Query(ctx, "SELECT 1")
			require.ErrorIs(t, err, sdk.ErrInvalidCredentials)
			err = c.Connect(ctx)
			require.ErrorIs(t, err, sdk.ErrInvalidCredentials)
			assert.NoError(t, ctx.Err(), "Connect must fail before its deadline")
			_, err = c.Subscribe(ctx, "SELECT * FROM system.users")
			require.ErrorIs(t, err, sdk.ErrInvalidCredentials)
			assert.NoError(t, ctx.Err(), "Subscribe must fail before its deadline")
			assert.False(t, errors.Is(err, context.DeadlineExceeded))
		})
	}
}

// issue 9 item 9: Close returns promptly after a WebSocket authentication
// that timed out against a server that never answers (not even the close
// handshake, which coder/websocket would wait 5 s for).
func TestCloseAfterAuthTimeoutReturnsPromptly(t *testing.T) {
	release := make(chan struct{})
	accepted := make(chan struct{}, 4)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		accepted <- struct{}{}
		<-release // never reads: no auth_success, no close frame
	}))
	defer hs.Close()
	defer close(release)

	c, err := sdk.New(hs.URL, sdk.WithToken("tok"), sdk.WithAuthTimeout(50*time.Millisecond),
		sdk.WithReconnect(time.Hour, time.Hour, 0))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.Error(t, c.Connect(ctx))
	<-accepted

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c.Close()
	}()
	bound, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	select {
	case <-closed:
	case <-bound.Done():
		t.Fatal("Client.Close did not return before a 2 s context expired")
	}
}

// issue 9 item 9: closing a client closes its default transport's idle
// keep-alive connections, so 20 closed clients leave no goroutines behind.
func TestCloseReleasesIdleConnections(t *testing.T) {
	srv := kalamtest.NewServer(t)
	noGoroutineLeak(t)
	for range 20 {
		c, err := sdk.New(srv.URL, sdk.WithBasicAuth(srv.RootUser, srv.RootPassword))
		require.NoError(t, err)
		for range 3 {
			mustQuery(t, c, "SELECT 1")
		}
		require.NoError(t, c.Close())
	}
}
