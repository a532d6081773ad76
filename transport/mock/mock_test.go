//go:build !js

package mock_test

import (
	"context"
	"errors"
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
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
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
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(transport.StatusNormalClosure, ""); err != nil {
			t.Errorf("client Close: %v", err)
		}
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
		t.Fatalf("the handler never accepted a WebSocket")
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
	if err != nil {
		t.Fatal(err)
	}
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
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got.ContentLength != 3 {
		t.Errorf("ContentLength = %d, want 3", got.ContentLength)
	}
}

func TestShortBodyIsAnErrorForTheHandler(t *testing.T) {
	ctx := testContext(t)
	tr := mock.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	resp, err := tr.Do(ctx, &transport.Request{Method: "POST", URL: "http://x/", Body: strings.NewReader("abc"), ContentLength: 10})
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "3 of its 10 declared bytes") {
		t.Fatalf("status %d body %q, want 400 naming the short body", resp.StatusCode, body)
	}
}

func TestFailNext(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv, mock.WithTrafficLog())
	tr.FailNext(2)
	for i := range 2 {
		_, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://x/a"})
		var fe *mock.FaultError
		if !errors.As(err, &fe) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("request %d: %v, want a *mock.FaultError wrapping ECONNREFUSED", i, err)
		}
	}
	if n := srv.calls.Load(); n != 0 {
		t.Fatalf("the handler ran %d times for failed requests, want 0", n)
	}
	resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://x/a"})
	if err != nil {
		t.Fatalf("third request: %v, want success", err)
	}
	readAll(t, resp)

	tr.FailNext(1)
	if _, err := tr.Dial(ctx, "ws://x/ws", nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial after FailNext(1): %v, want ECONNREFUSED", err)
	}
	traffic := tr.Traffic()
	if len(traffic) != 4 {
		t.Fatalf("traffic log has %d entries, want 4: %+v", len(traffic), traffic)
	}
	if traffic[0].Err == nil || traffic[0].Status != 0 || traffic[2].Status != 200 || !traffic[3].WebSocket || traffic[3].Err == nil {
		t.Fatalf("traffic log %+v: want two failures, one 200, one failed WebSocket dial", traffic)
	}
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
		t.Fatalf("Do during an hour of latency, cancelled: %v, want context.Canceled", err)
	}
	if n := srv.calls.Load(); n != 0 {
		t.Fatalf("the handler ran before the latency elapsed")
	}
	tr.SetLatency(0)
	resp, err := tr.Do(ctx, &transport.Request{Method: "GET", URL: "http://x/a"})
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); body != "ok" {
		t.Fatalf("body %q, want ok", body)
	}
}

func TestMessageLatencyKeepsTheMessage(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	c, server := srv.dial(t, ctx, tr)
	if err := server.Write(ctx, websocket.MessageText, []byte("delayed")); err != nil {
		t.Fatal(err)
	}
	tr.SetMessageLatency(time.Hour)
	readCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(readCtx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read during an hour of message latency, cancelled: %v, want context.Canceled", err)
	}
	tr.SetMessageLatency(0)
	_, msg, err := c.Read(ctx)
	if err != nil || string(msg) != "delayed" {
		t.Fatalf("Read after the latency was lifted: %q, %v; want the delayed message", msg, err)
	}
}

func TestDropConnections(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	c, server := srv.dial(t, ctx, tr)
	if n := tr.DropConnections(); n != 1 {
		t.Fatalf("DropConnections cut %d connections, want 1", n)
	}
	_, _, err := c.Read(ctx)
	if !errors.Is(err, transport.ErrConnClosed) || transport.CloseStatus(err) != -1 {
		t.Fatalf("client Read after a cut: %v, want ErrConnClosed without a close status", err)
	}
	_, _, err = server.Read(ctx)
	if err == nil || websocket.CloseStatus(err) != -1 {
		t.Fatalf("server Read after a cut: %v, want an error without a close frame", err)
	}
	if err := c.Write(ctx, transport.MessageText, []byte("x")); !errors.Is(err, transport.ErrConnClosed) {
		t.Fatalf("client Write after a cut: %v, want ErrConnClosed", err)
	}
	if n := tr.DropConnections(); n != 0 {
		t.Fatalf("second DropConnections cut %d, want 0", n)
	}
}

func TestStallReads(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	c, server := srv.dial(t, ctx, tr)
	release := tr.StallReads()
	if err := server.Write(ctx, websocket.MessageText, []byte("held")); err != nil {
		t.Fatal(err)
	}
	readCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Read(readCtx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read on a stalled connection: %v, want it to wait until cancelled", err)
	}
	// Writes still flow while reads stall.
	if err := c.Write(ctx, transport.MessageText, []byte("up")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := server.Read(ctx); err != nil || string(msg) != "up" {
		t.Fatalf("server Read during a stall: %q, %v", msg, err)
	}
	release()
	release() // idempotent
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "held" {
		t.Fatalf("Read after release: %q, %v; want the held message", msg, err)
	}
}

func TestTrafficLog(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv, mock.WithTrafficLog())
	resp, err := tr.Do(ctx, &transport.Request{Method: "POST", URL: "http://x/a", Body: strings.NewReader("hello"), ContentLength: -1})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	c, server := srv.dial(t, ctx, tr)
	for range 3 {
		if err := c.Write(ctx, transport.MessageBinary, []byte("1234")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := server.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	server.Write(ctx, websocket.MessageText, []byte("xy"))
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	got := tr.Traffic()
	if len(got) != 2 {
		t.Fatalf("traffic %+v, want 2 entries", got)
	}
	want0 := mock.Exchange{Method: "POST", URL: "http://x/a", Status: 200, RequestBytes: 5, ResponseBytes: 2}
	if got[0] != want0 {
		t.Errorf("HTTP entry %+v, want %+v", got[0], want0)
	}
	want1 := mock.Exchange{Method: "GET", URL: "ws://x/ws", Status: 101, WebSocket: true, MessagesSent: 3, MessagesReceived: 1, RequestBytes: 12, ResponseBytes: 2}
	if got[1] != want1 {
		t.Errorf("WebSocket entry %+v, want %+v", got[1], want1)
	}
	tr.ResetTraffic()
	if n := len(tr.Traffic()); n != 0 {
		t.Errorf("after ResetTraffic the log has %d entries", n)
	}
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
		t.Fatalf("Do on a handler that panics: %v, want an error naming the panic", err)
	}
	resp, err := tr.Do(ctx, &transport.Request{URL: "http://x/late"})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if string(b) != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("body of a handler that panicked mid-response: %q, %v; want the partial body and io.ErrUnexpectedEOF", b, err)
	}
}

func TestDoOnAnUpgradeEndpoint(t *testing.T) {
	ctx := testContext(t)
	srv := newWSServer()
	tr := mock.New(srv)
	_, err := tr.Do(ctx, &transport.Request{URL: "http://x/ws", Header: map[string][]string{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
	}})
	if err == nil || !strings.Contains(err.Error(), "needs Dial") {
		t.Fatalf("Do on an upgrade: %v, want an error saying it needs Dial", err)
	}
	// The hijacked server end was hung up, not leaked.
	server := srv.accept(t, ctx)
	if _, _, err := server.Read(ctx); err == nil {
		t.Fatalf("the server end of an abandoned upgrade still reads")
	}
}

func TestInvalidRequests(t *testing.T) {
	ctx := testContext(t)
	tr := mock.New(http.NotFoundHandler())
	if _, err := tr.Do(ctx, nil); err == nil {
		t.Error("Do(nil) succeeded")
	}
	for _, u := range []string{"::", "/no-host", "http://x/%zz"} {
		if _, err := tr.Do(ctx, &transport.Request{URL: u}); err == nil || !strings.Contains(err.Error(), u) {
			t.Errorf("Do(%q): %v, want an error naming the URL", u, err)
		}
	}
	if _, err := tr.Dial(ctx, "ws://x/ws", &transport.DialOptions{ReadLimit: -1}); err == nil {
		t.Error("Dial with a negative ReadLimit succeeded")
	}
}
