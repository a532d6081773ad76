//go:build !js

package mock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/mock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readAll(t *testing.T, resp *transport.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "reading the body")
	return string(b)
}

// wsServer is a handler whose WebSocket side the test drives: every
// accepted server connection is handed over on conns.
type wsServer struct {
	conns chan *websocket.Conn
	calls atomic.Int64
}

func newWSServer() *wsServer { return &wsServer{conns: make(chan *websocket.Conn, 4)} }

func (s *wsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	if r.URL.Path != "/ws" {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s.conns <- c
	// The request context ends when the handler returns; the test owns c.
	<-r.Context().Done()
}

// dial opens a client connection and returns it with the handler's end.
// Cleanup drops the server end first, so the client's Close need not wait
// for a close handshake nobody answers.
func (s *wsServer) dial(t *testing.T, ctx context.Context, tr *mock.Transport) (transport.Conn, *websocket.Conn) {
	t.Helper()
	c, err := tr.Dial(ctx, "ws://x/ws", nil)
	require.NoError(t, err, "Dial")
	t.Cleanup(func() {
		assert.NoError(t, c.Close(transport.StatusNormalClosure, ""), "client Close")
	})
	return c, s.accept(t, ctx)
}

func (s *wsServer) accept(t *testing.T, ctx context.Context) *websocket.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.CloseNow() })
		return c
	case <-ctx.Done():
		require.FailNow(t, "the handler never accepted a WebSocket")
		return nil
	}
}

func TestRequestAsAServerSeesIt(t *testing.T) {
	ctx := testContext(t)
	var got *http.Request
	var body string
	tr := mock.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	}))
	resp, err := tr.Do(ctx, &transport.Request{
		Method: "PUT", URL: "https://db.example:8443/v1/api/sql?x=1",
		Header: map[string][]string{"content-type": {"application/json"}},
		Body:   strings.NewReader("abc"), ContentLength: 3,
	})
	require.NoError(t, err)
	readAll(t, resp)
	checks := []struct{ name, got, want string }{
		{"Method", got.Method, "PUT"},
		{"RemoteAddr", got.RemoteAddr, mock.RemoteAddr},
		{"Host", got.Host, "db.example:8443"},
		{"RequestURI", got.RequestURI, "/v1/api/sql?x=1"},
		{"URL.Path", got.URL.Path, "/v1/api/sql"},
		{"URL.Host", got.URL.Host, ""},
		{"Content-Type", got.Header.Get("Content-Type"), "application/json"},
		{"Proto", got.Proto, "HTTP/1.1"},
		{"body", body, "abc"},
	}
	for _, c := range checks {
		assert.Equal(t, c.want, c.got, "%s = %q, want %q", c.name, c.got, c.want)
	}
	assert.EqualValues(t, 3, got.ContentLength, "ContentLength = %d, want 3", got.ContentLength)
}

func TestShortBodyIsAnErrorForTheHandler(t *testing.T) {
	ctx := testContext(t)
	tr := mock.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	resp, err := tr.Do(ctx, &transport.Request{Method: "POST", URL: "http://x/", Body: strings.NewReader("abc"), ContentLength: 10})
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, body, "3 of its 10 declared bytes", "status %d body %q, want 400 naming the short body", resp.StatusCode, body)
}

func TestFailNext(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv, mock.WithTrafficLog())
	tr.FailNext(2)
	for i := range 2 {
		_, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://x/a"})
		var fe *mock.FaultError
		require.ErrorAs(t, err, &fe)
		require.ErrorIs(t, err, syscall.ECONNREFUSED, "request %d: %v, want a *mock.FaultError wrapping ECONNREFUSED", i, err)
	}
	n := srv.calls.Load()
	require.EqualValues(t, 0, n, "the handler ran %d times for failed requests, want 0", n)
	resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://x/a"})
	require.NoError(t, err, "third request: %v, want success", err)
	readAll(t, resp)

	tr.FailNext(1)
	_, err = tr.Dial(ctx, "ws://x/ws", nil)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "Dial after FailNext(1): %v, want ECONNREFUSED", err)
	traffic := tr.Traffic()
	require.Len(t, traffic, 4, "traffic log has %d entries, want 4: %+v", len(traffic), traffic)
	require.Error(t, traffic[0].Err)
	require.Equal(t, 0, traffic[0].Status)
	require.Equal(t, 200, traffic[2].Status)
	require.True(t, traffic[3].WebSocket)
	require.Error(t, traffic[3].Err, "traffic log %+v: want two failures, one 200, one failed WebSocket dial", traffic)
}

func TestLatencyHonoursContext(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv, mock.WithLatency(time.Hour))
	reqCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := tr.Do(reqCtx, &transport.Request{Method: "GET", URL: "http://x/a"})
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		require.FailNow(t, fmt.Sprintf("Do during an hour of latency, cancelled: %v, want context.Canceled", err))
	}
	n := srv.calls.Load()
	require.EqualValues(t, 0, n, "the handler ran before the latency elapsed")
	tr.SetLatency(0)
	resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://x/a"})
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, "ok", body, "body %q, want ok", body)
}

func TestMessageLatencyKeepsTheMessage(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	c, server := srv.dial(t, ctx, tr)
	require.NoError(t, server.Write(ctx, websocket.MessageText, []byte("delayed")))
	tr.SetMessageLatency(time.Hour)
	readCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(readCtx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		require.FailNow(t, fmt.Sprintf("Read during an hour of message latency, cancelled: %v, want context.Canceled", err))
	}
	tr.SetMessageLatency(0)
	_, msg, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "delayed", string(msg), "Read after the latency was lifted: %q, %v; want the delayed message", msg, err)
}

func TestDropConnections(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	c, server := srv.dial(t, ctx, tr)
	n := tr.DropConnections()
	require.Equal(t, 1, n, "DropConnections cut %d connections, want 1", n)
	_, _, err := c.Read(ctx)
	require.ErrorIs(t, err, transport.ErrConnClosed)
	require.EqualValues(t, -1, transport.CloseStatus(err), "client Read after a cut: %v, want ErrConnClosed without a close status", err)
	_, _, err = server.Read(ctx)
	require.Error(t, err)
	require.EqualValues(t, -1, websocket.CloseStatus(err), "server Read after a cut: %v, want an error without a close frame", err)
	err = c.Write(ctx, transport.MessageText, []byte("x"))
	require.ErrorIs(t, err, transport.ErrConnClosed, "client Write after a cut: %v, want ErrConnClosed", err)
	n = tr.DropConnections()
	require.Equal(t, 0, n, "second DropConnections cut %d, want 0", n)
}

func TestStallReads(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	c, server := srv.dial(t, ctx, tr)
	release := tr.StallReads()
	require.NoError(t, server.Write(ctx, websocket.MessageText, []byte("held")))
	readCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(readCtx)
		errc <- err
	}()
	cancel()
	err := <-errc
	require.ErrorIs(t, err, context.Canceled, "Read on a stalled connection: %v, want it to wait until cancelled", err)
	// Writes still flow while reads stall.
	require.NoError(t, c.Write(ctx, transport.MessageText, []byte("up")))
	_, msg, err := server.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "up", string(msg), "server Read during a stall: %q, %v", msg, err)
	release()
	release() // idempotent
	_, msg, err = c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "held", string(msg), "Read after release: %q, %v; want the held message", msg, err)
}

func TestTrafficLog(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv, mock.WithTrafficLog())
	resp, err := tr.Do(ctx, &transport.Request{Method: "POST", URL: "http://x/a", Body: strings.NewReader("hello"), ContentLength: -1})
	require.NoError(t, err)
	readAll(t, resp)
	c, server := srv.dial(t, ctx, tr)
	for range 3 {
		require.NoError(t, c.Write(ctx, transport.MessageBinary, []byte("1234")))
		_, _, err := server.Read(ctx)
		require.NoError(t, err)
	}
	server.Write(ctx, websocket.MessageText, []byte("xy"))
	_, _, err = c.Read(ctx)
	require.NoError(t, err)
	got := tr.Traffic()
	require.Len(t, got, 2, "traffic %+v, want 2 entries", got)
	want0 := mock.Exchange{Method: "POST", URL: "http://x/a", Status: 200, RequestBytes: 5, ResponseBytes: 2}
	assert.Equal(t, want0, got[0], "HTTP entry %+v, want %+v", got[0], want0)
	want1 := mock.Exchange{Method: "GET", URL: "ws://x/ws", Status: 101, WebSocket: true, MessagesSent: 3, MessagesReceived: 1, RequestBytes: 12, ResponseBytes: 2}
	assert.Equal(t, want1, got[1], "WebSocket entry %+v, want %+v", got[1], want1)
	tr.ResetTraffic()
	n := len(tr.Traffic())
	assert.Equal(t, 0, n, "after ResetTraffic the log has %d entries", n)
}

func TestHandlerPanicIsATransportError(t *testing.T) {
	ctx := testContext(t)
	tr := mock.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		panic("boom")
	}))
	if _, err := tr.Do(ctx, &transport.Request{URL: "http://x/early"}); err == nil || !strings.Contains(err.Error(), "boom") {
		require.FailNow(t, fmt.Sprintf("Do on a handler that panics: %v, want an error naming the panic", err))
	}
	resp, err := tr.Do(ctx, &transport.Request{URL: "http://x/late"})
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.Equal(t, "partial", string(b))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "body of a handler that panicked mid-response: %q, %v; want the partial body and io.ErrUnexpectedEOF", b, err)
}

func TestDoOnAnUpgradeEndpoint(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	_, err := tr.Do(ctx, &transport.Request{URL: "http://x/ws", Header: map[string][]string{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
	}})
	require.Error(t, err)
	require.Contains(t, err.Error(), "needs Dial", "Do on an upgrade: %v, want an error saying it needs Dial", err)
	// The hijacked server end was hung up, not leaked.
	server := srv.accept(t, ctx)
	_, _, err = server.Read(ctx)
	require.Error(t, err, "the server end of an abandoned upgrade still reads")
}

func TestInvalidRequests(t *testing.T) {
	ctx := testContext(t)
	tr := mock.New(http.NotFoundHandler())
	_, err := tr.Do(ctx, nil)
	assert.Error(t, err, "Do(nil) succeeded")
	for _, u := range []string{"::", "/no-host", "http://x/%zz"} {
		_, err := tr.Do(ctx, &transport.Request{URL: u})
		assert.False(t, err == nil || !strings.Contains(err.Error(), u), "Do(%q): %v, want an error naming the URL", u, err)
	}
	_, err = tr.Dial(ctx, "ws://x/ws", &transport.DialOptions{ReadLimit: -1})
	assert.Error(t, err, "Dial with a negative ReadLimit succeeded")
}
