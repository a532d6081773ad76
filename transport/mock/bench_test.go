//go:build !js

package mock_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/mock"
	"github.com/stretchr/testify/require"
)

// echoWS echoes every WebSocket message with its type.
func echoWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 20)
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, msg); err != nil {
			return
		}
	}
}

func BenchmarkDo(b *testing.B) {
	tr := mock.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","results":[]}`)
	}))
	ctx := context.Background()
	req := &transport.Request{Method: "GET", URL: "http://kalamdb.mock/v1/api/healthcheck"}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := tr.Do(ctx, req)
		require.NoError(b, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkWebSocketRoundTrip1MiB(b *testing.B) {
	tr := mock.New(http.HandlerFunc(echoWS))
	ctx := context.Background()
	c, err := tr.Dial(ctx, "ws://kalamdb.mock/ws", nil)
	require.NoError(b, err)
	defer c.Close(transport.StatusNormalClosure, "")
	msg := make([]byte, 1<<20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, c.Write(ctx, transport.MessageBinary, msg))
		_, _, err := c.Read(ctx)
		require.NoError(b, err)
	}
}
