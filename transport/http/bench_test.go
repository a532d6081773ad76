package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/transport"
	kalamhttp "github.com/kalamstack/kalam-go/transport/http"
	"github.com/stretchr/testify/require"
)

func BenchmarkDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","results":[]}`)
	}))
	defer srv.Close()
	tr := kalamhttp.New(nil)
	defer tr.CloseIdleConnections()
	ctx := context.Background()
	req := &transport.Request{Method: "GET", URL: srv.URL + "/v1/api/healthcheck"}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := tr.Do(ctx, req)
		require.NoError(b, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkDoBaseline is the same round trip through a bare net/http
// client, the floor for BenchmarkDo.
func BenchmarkDoBaseline(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","results":[]}`)
	}))
	defer srv.Close()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(srv.URL + "/v1/api/healthcheck")
		require.NoError(b, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkWebSocketRoundTrip1MiB(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := kalamhttp.New(nil).Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
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
