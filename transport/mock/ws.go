//go:build !js

package mock

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/kalamstack/kalam-go/transport"
	"github.com/kalamstack/kalam-go/transport/internal/wsconn"
)

// Dial opens an in-memory WebSocket to the handler: the handler's upgrade
// (websocket.Accept) hijacks one end of a buffered in-memory connection and
// the client speaks RFC 6455 over the other, so every frame really crosses.
// The Conn also has Ping(ctx) error, a WebSocket Ping that waits for the
// Pong.
func (t *Transport) Dial(ctx context.Context, url string, opts *transport.DialOptions) (transport.Conn, error) {
	rec := t.newRecord(http.MethodGet, url, true)
	var pipe *pipeConn
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, p, err := t.roundTripUpgrade(r, rec)
		pipe = p
		return resp, err
	})}
	inner, err := wsconn.Dial(ctx, hc, url, opts)
	if err != nil {
		if pipe != nil {
			pipe.Close()
		}
		rec.fail(err)
		return nil, err
	}
	c := &wsConn{t: t, inner: inner, pipe: pipe, rec: rec}
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
	go func() {
		// Forget the connection once it ends, however it ends.
		<-inner.Done()
		t.forget(c)
	}()
	return c, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// roundTripUpgrade serves one handshake request. On 101 the response body
// is the client end of the hijacked connection, as net/http returns it.
func (t *Transport) roundTripUpgrade(r *http.Request, rec *record) (*http.Response, *pipeConn, error) {
	ctx := r.Context()
	hreq, err := t.prepare(ctx, rec, r.Method, r.URL.String())
	if err != nil {
		return nil, nil, err
	}
	hreq.Header = canonicalHeader(r.Header)
	if r.Host != "" {
		hreq.Host = r.Host
	}
	ex := t.serve(hreq, rec)
	select {
	case <-ex.ready:
	case <-ctx.Done():
		go ex.hangUp()
		return nil, nil, ctx.Err()
	}
	if ex.failure != nil {
		return nil, nil, ex.failure
	}
	resp := &http.Response{
		Status:     fmt.Sprintf("%d %s", ex.status, http.StatusText(ex.status)),
		StatusCode: ex.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        ex.sent,
		ContentLength: -1,
		Request:       r,
	}
	if ex.status != http.StatusSwitchingProtocols {
		body := &responseBody{ex: ex, rec: rec}
		body.stop = context.AfterFunc(ctx, func() { ex.abort(ctx.Err()) })
		resp.Body = body
		return resp, nil, nil
	}
	select {
	case <-ex.hijacked:
	case <-ex.done:
		return nil, nil, fmt.Errorf("mock: %s: handler answered 101 Switching Protocols but returned without hijacking the connection", r.URL)
	case <-ctx.Done():
		go ex.hangUp()
		return nil, nil, ctx.Err()
	}
	pipe := ex.hijackConn.(*pipeConn)
	resp.Body = pipe
	return resp, pipe, nil
}

// wsConn adds the mock's faults and traffic counts to a connection.
type wsConn struct {
	t     *Transport
	inner *wsconn.Conn
	pipe  *pipeConn
	rec   *record

	// pending holds a message whose delivery latency was cut short by a
	// cancelled Read, so the next Read returns it instead of losing it.
	pending *message
}

type message struct {
	typ  transport.MessageType
	data []byte
}

func (c *wsConn) Read(ctx context.Context) (transport.MessageType, []byte, error) {
	if err := c.t.waitStall(ctx); err != nil {
		return 0, nil, err
	}
	if c.pending == nil {
		typ, data, err := c.inner.Read(ctx)
		if err != nil {
			return 0, nil, err
		}
		c.pending = &message{typ: typ, data: data}
	}
	if err := wait(ctx, time.Duration(c.t.messageLatency.Load())); err != nil {
		return 0, nil, err
	}
	m := c.pending
	c.pending = nil
	c.rec.msgsRx.Add(1)
	c.rec.respBytes.Add(int64(len(m.data)))
	return m.typ, m.data, nil
}

func (c *wsConn) Write(ctx context.Context, typ transport.MessageType, p []byte) error {
	if err := wait(ctx, time.Duration(c.t.messageLatency.Load())); err != nil {
		return err
	}
	if err := c.inner.Write(ctx, typ, p); err != nil {
		return err
	}
	c.rec.msgsSent.Add(1)
	c.rec.reqBytes.Add(int64(len(p)))
	return nil
}

// Ping sends a WebSocket Ping and waits for the handler's Pong.
func (c *wsConn) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

func (c *wsConn) Close(code transport.StatusCode, reason string) error {
	return c.inner.Close(code, reason)
}

// CloseNow drops the connection without the close handshake.
func (c *wsConn) CloseNow() error { return c.inner.CloseNow() }

func (t *Transport) forget(c *wsConn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// DropConnections cuts every open WebSocket at once, as a network failure
// would: no close frame, both sides see the connection reset (abnormal
// closure, 1006; the client's Read returns an error wrapping
// transport.ErrConnClosed). It returns how many connections it cut.
func (t *Transport) DropConnections() int {
	t.mu.Lock()
	conns := t.conns
	t.conns = make(map[*wsConn]struct{})
	t.mu.Unlock()
	for c := range conns {
		c.pipe.cut()
	}
	return len(conns)
}

// StallReads makes every WebSocket stop delivering messages: connections
// stay open, messages queue (pushing back on the server once buffers
// fill), and Read waits until release is called. release is idempotent.
func (t *Transport) StallReads() (release func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stall == nil {
		t.stall = make(chan struct{})
	}
	gate := t.stall
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stall == gate {
			close(gate)
			t.stall = nil
		}
	}
}

// waitStall blocks while reads are stalled. A connection that ends while
// stalled is held back too: a stalled link shows nothing, not even its own
// end, until released.
func (t *Transport) waitStall(ctx context.Context) error {
	t.mu.Lock()
	gate := t.stall
	t.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
